// The packaged extension in a real VS Code (code-server 4.139.1), driven by headless Chromium:
// type in a Python file, see nib's ghost text, accept it with Tab, save a file and see nib's
// review diagnostic, rename a local and take the next edit nib proposes with Alt+N twice, ask
// explicitly and cycle nib's candidates with Alt+]. Env:
// NIB_BIN (the nib binary), NIB_TEST_MODEL (a GGUF), NIB_HOME (with the review cache the caller
// seeded), NIB_SCREENSHOT (where to save the ghost text, optional), NIB_NEXT_EDIT_SCREENSHOT (where to
// save the editor showing the next edit, optional).
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const vsix = resolve(here, "../nib.vsix");
const codeServer = resolve(here, "node_modules/.bin/code-server");
const nib = process.env.NIB_BIN;
const model = process.env.NIB_TEST_MODEL;
assert.ok(nib && model, "NIB_BIN and NIB_TEST_MODEL must be set");

const root = mkdtempSync(join(tmpdir(), "nib-code-server-"));
const dirs = Object.fromEntries(["home", "data", "extensions", "work", "browser"].map((d) => [d, join(root, d)]));
Object.values(dirs).forEach((d) => mkdirSync(d, { recursive: true }));
writeFileSync(join(dirs.work, "sample.py"), readFileSync(resolve(here, "../../../tests/fixtures/sample.py")));
writeFileSync(join(dirs.work, "items.py"), "def last_item(items):\n    return items[len(items)]\n");
// Real code nobody here wrote, where this machine's Python keeps it.
const textwrap = spawnSync("python3", ["-c", "import textwrap; print(textwrap.__file__)"], { encoding: "utf8" }).stdout.trim();
const textwrapText = readFileSync(textwrap, "utf8");
const textwrapLine = 1 + textwrapText.split("\n").indexOf("        return self._split(text)");
assert.ok(textwrapLine > 0, "textwrap.py has the line the candidates are asked at");
writeFileSync(join(dirs.work, "textwrap.py"), textwrapText);
writeFileSync(
  join(dirs.work, "report.py"),
  "def report(rows):\n    total = 0\n    for row in rows:\n        total += row.amount\n    print(total)\n    return total\n",
);
mkdirSync(join(dirs.data, "User"), { recursive: true });
writeFileSync(
  join(dirs.data, "User", "settings.json"),
  JSON.stringify({
    "nib.path": nib,
    "nib.model": model,
    "nib.completion.deadlineMs": 600000,
    // The whole suggestion at once: the ghost text read below is the one Tab accepts.
    "nib.completion.partialAfterMs": 0,
    "workbench.startupEditor": "none",
    "security.workspace.trust.enabled": false,
    "editor.inlineSuggest.enabled": true,
    "files.autoSave": "off",
    // Only the inline suggestion: no completion list competing for Tab.
    "editor.quickSuggestions": { "other": "off", "comments": "off", "strings": "off" },
    "editor.suggestOnTriggerCharacters": false,
    "chat.disableAIFeatures": true,
  }),
);
const env = { ...process.env, HOME: dirs.home };
const common = ["--user-data-dir", dirs.data, "--extensions-dir", dirs.extensions];

const installed = spawnSync(codeServer, [...common, "--install-extension", vsix], { env, encoding: "utf8" });
assert.equal(installed.status, 0, `installing the .vsix failed:\n${installed.stdout}\n${installed.stderr}`);

const port = 20000 + (process.pid % 20000);
const server = spawn(
  codeServer,
  ["--bind-addr", `127.0.0.1:${port}`, "--auth", "none", "--disable-telemetry", "--disable-update-check",
    "--disable-workspace-trust", ...common, dirs.work],
  { env, stdio: ["ignore", "pipe", "pipe"], detached: true },
);
// code-server starts children of its own: stop the whole group.
const stopServer = () => {
  try {
    process.kill(-server.pid, "SIGKILL");
  } catch {
    // already gone
  }
};
process.on("exit", stopServer);
let serverLog = "";
server.stdout.on("data", (d) => (serverLog += d));
server.stderr.on("data", (d) => (serverLog += d));
const deadline = Date.now() + 60_000;
while (!serverLog.includes("HTTP server listening")) {
  assert.ok(Date.now() < deadline, `code-server did not start:\n${serverLog}`);
  await new Promise((r) => setTimeout(r, 200));
}

const browser = await chromium.launchPersistentContext(dirs.browser, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  viewport: { width: 1280, height: 800 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.work)}`);
  await page.waitForSelector(".monaco-workbench", { timeout: 60_000 });
  await page.waitForTimeout(3000);

  const open = async (name) => {
    await page.keyboard.press("Control+P");
    await page.waitForSelector(".quick-input-widget input", { state: "visible", timeout: 30_000 });
    await page.keyboard.type(name);
    await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${name}"]`, { timeout: 30_000 });
    await page.keyboard.press("Enter");
    await page.waitForSelector(`.tab.active[aria-label*="${name}"]`, { timeout: 30_000 });
    await page.waitForSelector(".editor-instance .monaco-editor .view-lines", { timeout: 30_000 });
    await page.waitForTimeout(1000);
  };
  await open("sample.py");
  // Line 24 is `        return ` in total_value.
  await page.keyboard.press("Control+G");
  await page.keyboard.type("24");
  await page.keyboard.press("Enter");
  await page.keyboard.press("End");
  await page.keyboard.type("s");
  const ghost = await page.waitForSelector(".ghost-text-decoration", { timeout: 180_000 });
  await page.waitForTimeout(300);
  const shown = (await ghost.textContent()) ?? "";
  if (process.env.NIB_SCREENSHOT) {
    await page.screenshot({ path: process.env.NIB_SCREENSHOT });
  }
  console.log(`ghost text in VS Code: ${JSON.stringify(shown)}`);
  assert.ok(shown.length > 0, "the ghost text is empty");
  await page.keyboard.press("Tab");
  await page.waitForTimeout(500);
  const lines = await page.$$eval(".monaco-editor .view-line", (els) => els.map((e) => e.textContent.replace(/\u00a0/g, " ")));
  const accepted = lines.find((l) => l.includes(`return s${shown}`));
  assert.ok(accepted, `Tab did not insert ${JSON.stringify(shown)}:\n${lines.join("\n")}`);

  // Saving reviews the file; nib's finding shows as an error squiggle.
  await open("items.py");
  await page.keyboard.press("Control+S");
  await page.waitForSelector(".monaco-editor .squiggly-error", { timeout: 120_000 });
  console.log("review diagnostic shown in VS Code");
  if (process.env.NIB_SCREENSHOT) {
    await page.screenshot({ path: process.env.NIB_SCREENSHOT.replace(/\.png$/, "-review.png") });
  }

  // Rename `total` at its definition: nib proposes the same rename at its next use, shown after it
  // as "⇥ balance" (a decoration's text is CSS content, not in the DOM's text).
  await open("report.py");
  await page.keyboard.press("Control+G");
  await page.keyboard.type("2");
  await page.keyboard.press("Enter");
  await page.keyboard.press("Home");
  await page.keyboard.press("Control+Shift+ArrowRight");
  await page.keyboard.type("balance");
  await page.keyboard.press("Escape");
  await page.waitForFunction(() => [...document.querySelectorAll(".monaco-editor .view-line span")]
    .some((e) => getComputedStyle(e, "::after").content.includes("⇥ balance")
      || getComputedStyle(e, "::before").content.includes("⇥ balance")), null, { timeout: 60_000 });
  console.log("next edit shown in VS Code");
  if (process.env.NIB_NEXT_EDIT_SCREENSHOT) {
    // The lines that matter, not the empty editor below them.
    const box = await page.locator(".editor-instance").first().boundingBox();
    await page.screenshot({ path: process.env.NIB_NEXT_EDIT_SCREENSHOT,
      clip: { x: box.x, y: box.y, width: Math.min(box.width, 560), height: 150 } });
  }
  const viewLines = () => page.$$eval(".monaco-editor .view-line", (els) => els.map((e) => e.textContent.replace(/\u00a0/g, " ")));
  await page.keyboard.press("Alt+N");
  await page.waitForTimeout(500);
  assert.ok((await viewLines()).includes("        total += row.amount"), "the jump changed the text");
  await page.keyboard.press("Alt+N");
  await page.waitForFunction(() => [...document.querySelectorAll(".monaco-editor .view-line")]
    .some((e) => e.textContent.replace(/\u00a0/g, " ") === "        balance += row.amount"), null, { timeout: 10_000 });
  console.log("next edit applied in VS Code");

  // An explicit request (Alt+\) answers alternatives after the greedy suggestion; VS Code cycles them
  // (Alt+]), so every item has to reach it. `return self.` in real code is where nib's tests find them.
  await open("textwrap.py");
  await page.keyboard.press("Control+G");
  await page.keyboard.type(String(textwrapLine));
  await page.keyboard.press("Enter");
  await page.keyboard.press("End");
  await page.keyboard.press("Shift+Home");
  await page.keyboard.type("return self.");
  await page.keyboard.press("Escape");
  await page.keyboard.press("Alt+Backslash");
  const ghostText = async () => (await (await page.waitForSelector(".ghost-text-decoration", { timeout: 180_000 })).textContent()) ?? "";
  const greedy = await ghostText();
  await page.keyboard.press("Alt+BracketRight");
  await page.waitForFunction((before) => {
    const now = document.querySelector(".ghost-text-decoration")?.textContent;
    return now && now !== before;
  }, greedy, { timeout: 10_000 });
  console.log(`candidates cycled in VS Code: ${JSON.stringify(greedy)} then ${JSON.stringify(await ghostText())}`);
} catch (err) {
  console.error(serverLog.slice(-4000));
  if (process.env.NIB_SCREENSHOT) {
    await browser.pages()[0]?.screenshot({ path: process.env.NIB_SCREENSHOT.replace(/\.png$/, "-failed.png") });
  }
  throw err;
} finally {
  await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 5000))]);
  stopServer();
}
process.exit(0);
