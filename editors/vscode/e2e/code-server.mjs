// What every end-to-end test here needs: a fresh code-server (4.139.1) with a .vsix installed,
// its own user data, extensions and workspace, and headless Chromium on it.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const codeServer = resolve(here, "node_modules/.bin/code-server");

/** The settings every test starts from: only nib's inline suggestion, nothing else competing for Tab. */
export const BASE_SETTINGS = {
  "workbench.startupEditor": "none",
  "security.workspace.trust.enabled": false,
  "editor.inlineSuggest.enabled": true,
  "files.autoSave": "off",
  "editor.quickSuggestions": { "other": "off", "comments": "off", "strings": "off" },
  "editor.suggestOnTriggerCharacters": false,
  "chat.disableAIFeatures": true,
};

/**
 * A code-server session's folders under a new temporary root: `work` holds `files` (name: text),
 * `data/User/settings.json` holds `settings`.
 */
export function session(files, settings) {
  const root = mkdtempSync(join(tmpdir(), "nib-code-server-"));
  const dirs = Object.fromEntries(["home", "data", "extensions", "work", "browser"].map((d) => [d, join(root, d)]));
  Object.values(dirs).forEach((d) => mkdirSync(d, { recursive: true }));
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(dirs.work, name), text);
  }
  mkdirSync(join(dirs.data, "User"), { recursive: true });
  writeFileSync(join(dirs.data, "User", "settings.json"), JSON.stringify(settings));
  return dirs;
}

const common = (dirs) => ["--user-data-dir", dirs.data, "--extensions-dir", dirs.extensions];

/** `code-server --install-extension VSIX`, as a user installs a downloaded .vsix. */
export function install(dirs, vsix, env) {
  const installed = spawnSync(codeServer, [...common(dirs), "--install-extension", vsix], { env, encoding: "utf8" });
  assert.equal(installed.status, 0, `installing the .vsix failed:\n${installed.stdout}\n${installed.stderr}`);
}

/**
 * Starts code-server on the session's workspace (its environment is `env`, which the extension and
 * nib inherit), opens it in headless Chromium and runs `steps(page)`. On a failure, prints the end of
 * code-server's log and saves the page beside $NIB_SCREENSHOT (`-failed.png`). Stops both, then exits.
 */
export async function drive(dirs, env, steps) {
  const { page, log, close } = await open(dirs, env);
  try {
    await steps(page);
  } catch (err) {
    console.error(log().slice(-4000));
    if (process.env.NIB_SCREENSHOT) {
      await page.screenshot({ path: process.env.NIB_SCREENSHOT.replace(/\.png$/, "-failed.png") });
    }
    throw err;
  } finally {
    await close();
  }
  process.exit(0);
}

async function open(dirs, env) {
  const port = 20000 + (process.pid % 20000);
  const server = spawn(
    codeServer,
    ["--bind-addr", `127.0.0.1:${port}`, "--auth", "none", "--disable-telemetry", "--disable-update-check",
      "--disable-workspace-trust", ...common(dirs), dirs.work],
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
  const page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.work)}`);
  await page.waitForSelector(".monaco-workbench", { timeout: 60_000 });
  return {
    page,
    log: () => serverLog,
    close: async () => {
      await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 5000))]);
      stopServer();
    },
  };
}

/**
 * Waits until nib's model is ready: the extension's status-bar item shows its sparkle. Typing before
 * the language client runs asks no provider, and VS Code does not ask again.
 */
export async function nibReady(page, timeout = 300_000) {
  await page.waitForSelector(".statusbar-item .codicon-sparkle", { timeout });
}

/** Opens a workspace file by name with Quick Open and waits for its editor. */
export async function openFile(page, name) {
  await page.keyboard.press("Control+P");
  await page.waitForSelector(".quick-input-widget input", { state: "visible", timeout: 30_000 });
  await page.keyboard.type(name);
  await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${name}"]`, { timeout: 30_000 });
  await page.keyboard.press("Enter");
  await page.waitForSelector(`.tab.active[aria-label*="${name}"]`, { timeout: 30_000 });
  await page.waitForSelector(".editor-instance .monaco-editor .view-lines", { timeout: 30_000 });
  await page.waitForTimeout(1000);
}

/** Moves the cursor to the end of line `line` (1-based). */
export async function goToLineEnd(page, line) {
  await page.keyboard.press("Control+G");
  await page.keyboard.type(String(line));
  await page.keyboard.press("Enter");
  await page.keyboard.press("End");
}
