// A user's first run, in a real VS Code (code-server 4.139.1) driven by headless Chromium: the
// platform .vsix, with nib inside, is installed as a user installs one; there is no nib on PATH, no
// nib.path and no model (an empty NIB_HOME). nib's first-run dialog is answered in the browser (the
// download button of its notification), the download's progress shows, and ghost text appears in a
// file, all without a terminal. Prints the time from installing the .vsix to the first ghost text.
// Env: NIB_VSIX (the platform .vsix), NIB_HOME (empty), NIB_MODELS_URL (where nib downloads models
// from: the caller's loopback server), PATH (without nib), NIB_SCREENSHOT (the dialog, optional).
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { BASE_SETTINGS, drive, goToLineEnd, install, nibReady, openFile, session } from "./code-server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const vsix = process.env.NIB_VSIX;
assert.ok(vsix && process.env.NIB_HOME && process.env.NIB_MODELS_URL, "NIB_VSIX, NIB_HOME and NIB_MODELS_URL must be set");

const dirs = session(
  { "sample.py": readFileSync(resolve(here, "../../../tests/fixtures/sample.py")) },
  // No nib.path, no nib.model: the bundled nib, and the model it has not got. Every suggestion shown, however
  // unsure the model was (holding those back is tested with nib alone).
  {
    ...BASE_SETTINGS,
    "nib.completion.deadlineMs": 600000,
    "nib.completion.partialAfterMs": 0,
    "nib.completion.minConfidence": 0,
  },
);
const env = { ...process.env, HOME: dirs.home };
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

const installing = performance.now();
install(dirs, vsix, env);
await drive(dirs, env, async (page) => {
  // What the extension's status-bar item and the progress nib reports ($/progress, which
  // vscode-languageclient shows) said, recorded as it happens: on loopback the download is over in
  // about a second, faster than polling would see.
  await page.evaluate(() => {
    window.nibSeen = [];
    const note = () => {
      // The status bar: the extension's item ("nib 45%") and the window progress vscode-languageclient
      // shows for $/progress ("Downloading SmolLM2 135M: 12.6 / 98.4 MB").
      for (const el of document.querySelectorAll(".statusbar-item")) {
        const text = (el.textContent ?? "").replace(/\s+/g, " ").trim();
        if (/nib \d+%|Downloading/.test(text) && !window.nibSeen.includes(text)) {
          window.nibSeen.push(text);
        }
      }
    };
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  await openFile(page, "sample.py");

  // nib's first-run dialog: a notification with a button per choice.
  const toast = page.locator(".notification-toast", { hasText: "nib needs a model" });
  await toast.waitFor({ timeout: 120_000 });
  const buttons = await toast.locator(".monaco-button").allTextContents();
  console.log(`first-run dialog after ${seconds(performance.now() - installing)}: ${JSON.stringify(buttons)}`);
  if (process.env.NIB_SCREENSHOT) {
    await page.screenshot({ path: process.env.NIB_SCREENSHOT });
  }
  // The default model, the other choices (the other models, "Choose a file...") behind one button, and "Not now".
  assert.deepEqual(buttons, ["Download SmolLM2 135M (98 MB)", "More choices...", "Not now"]);
  const clicked = performance.now();
  await toast.locator(".monaco-button", { hasText: "Download SmolLM2 135M" }).click();

  // The model is in and loaded once the status bar shows nib's sparkle.
  await nibReady(page);
  const ready = performance.now();
  const seen = await page.evaluate(() => window.nibSeen);
  console.log(`download progress shown: ${JSON.stringify(seen)}`);
  assert.ok(seen.length > 0, "no progress was shown during the download");
  console.log(`model downloaded and loaded ${seconds(ready - clicked)} after the click`);

  // Line 24 is `        return ` in total_value.
  await goToLineEnd(page, 24);
  await page.keyboard.type("s");
  const ghost = await page.waitForSelector(".ghost-text-decoration", { timeout: 180_000 });
  const shown = (await ghost.textContent()) ?? "";
  const first = performance.now();
  assert.ok(shown.length > 0, "the ghost text is empty");
  console.log(`ghost text after the first run: ${JSON.stringify(shown)}`);
  console.log(`first ghost text ${seconds(first - installing)} after installing the .vsix`);
});
