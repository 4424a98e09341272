// Packages the extension for one platform with its nib binary inside:
//   node scripts/package.mjs <target> <nib binary> [<out.vsix>]
// (npm run package:target -- linux-x64 ../../target/release/nib). The binary is copied to server/
// (server/nib.exe for win32-x64), where the extension starts it from, `vsce package --target` writes
// nib-<target>.vsix (or <out.vsix>) with the repository's licence texts as LICENSE, and both are
// removed again, so the platform-neutral `npm run package` never carries a stale binary. Run
// `npm run build` first.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const fail = (message) => {
  console.error(`package: ${message}`);
  process.exit(2);
};
if (!existsSync(join(root, "out/extension.js")) || !existsSync(join(root, "out/server.js"))) {
  fail("no build in out/: run npm run build first");
}
// The targets and the binary's name, from the extension's own source (out/server.js).
const { TARGETS, binaryName } = createRequire(import.meta.url)(join(root, "out/server.js"));
const [target, binary, out] = process.argv.slice(2);
if (!TARGETS.includes(target) || !binary) {
  fail(`usage: node scripts/package.mjs <${TARGETS.join("|")}> <nib binary> [<out.vsix>]`);
}
if (!existsSync(binary) || !statSync(binary).isFile()) {
  fail(`${binary} is not a file`);
}

const server = join(root, "server");
const license = join(root, "LICENSE");
const vsix = resolve(out ?? join(root, `nib-${target}.vsix`));
rmSync(server, { recursive: true, force: true });
mkdirSync(server);
try {
  // The marketplace shows the extension's LICENSE: nib's two licence texts, from the repository's root.
  const texts = ["LICENSE-MIT", "LICENSE-APACHE"].map((name) => join(root, "../..", name)).filter((file) => existsSync(file));
  if (texts.length > 0) {
    writeFileSync(license, texts.map((file) => readFileSync(file, "utf8")).join("\n\n"));
  }
  const bundled = join(server, binaryName(target));
  copyFileSync(binary, bundled);
  // The zip keeps the mode, and VS Code's install restores it: the binary must be executable here.
  chmodSync(bundled, 0o755);
  const vsce = join(root, "node_modules/.bin", process.platform === "win32" ? "vsce.cmd" : "vsce");
  const run = spawnSync(vsce, ["package", "--no-dependencies", "--target", target, "-o", vsix], {
    cwd: root,
    stdio: "inherit",
  });
  if (run.status !== 0) {
    // Not fail(): exiting here would skip the clean-up below.
    throw new Error(`vsce package --target ${target} failed`);
  }
} finally {
  rmSync(server, { recursive: true, force: true });
  rmSync(license, { force: true });
}
console.log(`${vsix} ${(statSync(vsix).size / 1e6).toFixed(1)} MB`);
