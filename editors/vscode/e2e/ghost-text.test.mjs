// The packaged extension in a real VS Code (code-server 4.139.1), driven by headless Chromium:
// type in a Python file, see nib's ghost text, accept it with Tab, save a file and see nib's
// review diagnostic, rename a local and take the next edit nib proposes with Alt+N twice, ask
// explicitly and cycle nib's candidates with Alt+]. Env: NIB_VSIX (the packaged extension),
// NIB_BIN (the nib binary nib.path names instead of the bundled one), NIB_TEST_MODEL (a GGUF),
// NIB_HOME (with the review cache the caller seeded), NIB_SCREENSHOT (where to save the ghost text,
// optional), NIB_NEXT_EDIT_SCREENSHOT (where to save the editor showing the next edit, optional).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { BASE_SETTINGS, drive, goToLineEnd, install, nibReady, openFile, session } from "./code-server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const vsix = process.env.NIB_VSIX;
const nib = process.env.NIB_BIN;
const model = process.env.NIB_TEST_MODEL;
assert.ok(vsix && nib && model, "NIB_VSIX, NIB_BIN and NIB_TEST_MODEL must be set");

// Real code nobody here wrote, where this machine's Python keeps it.
const textwrap = spawnSync("python3", ["-c", "import textwrap; print(textwrap.__file__)"], { encoding: "utf8" }).stdout.trim();
const textwrapText = readFileSync(textwrap, "utf8");
const textwrapLine = 1 + textwrapText.split("\n").indexOf("        return self._split(text)");
assert.ok(textwrapLine > 0, "textwrap.py has the line the candidates are asked at");
const dirs = session(
  {
    "sample.py": readFileSync(resolve(here, "../../../tests/fixtures/sample.py")),
    "items.py": "def last_item(items):\n    return items[len(items)]\n",
    "textwrap.py": textwrapText,
    "report.py": "def report(rows):\n    total = 0\n    for row in rows:\n        total += row.amount\n    print(total)\n    return total\n",
  },
  {
    ...BASE_SETTINGS,
    // nib.path names another binary than the one bundled: that one runs.
    "nib.path": nib,
    "nib.model": model,
    "nib.completion.deadlineMs": 600000,
    // The whole suggestion at once: the ghost text read below is the one Tab accepts.
    "nib.completion.partialAfterMs": 0,
    // Every suggestion shown, however unsure the model was (holding those back is tested with nib alone).
    "nib.completion.minConfidence": 0,
  },
);
const env = { ...process.env, HOME: dirs.home };
install(dirs, vsix, env);
await drive(dirs, env, async (page) => {
  await page.waitForTimeout(3000);

  await openFile(page, "sample.py");
  await nibReady(page);
  // Line 24 is `        return ` in total_value.
  await goToLineEnd(page, 24);
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
  await openFile(page, "items.py");
  await page.keyboard.press("Control+S");
  await page.waitForSelector(".monaco-editor .squiggly-error", { timeout: 120_000 });
  console.log("review diagnostic shown in VS Code");
  if (process.env.NIB_SCREENSHOT) {
    await page.screenshot({ path: process.env.NIB_SCREENSHOT.replace(/\.png$/, "-review.png") });
  }

  // Rename `total` at its definition: nib proposes the same rename at its next use, shown after it
  // as "⇥ balance" (a decoration's text is CSS content, not in the DOM's text).
  await openFile(page, "report.py");
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
  await openFile(page, "textwrap.py");
  await goToLineEnd(page, textwrapLine);
  await page.keyboard.press("Shift+Home");
  await page.keyboard.type("return self.");
  await page.keyboard.press("Escape");
  await page.keyboard.press("Alt+Backslash");
  const ghostText = async () => (await (await page.waitForSelector(".ghost-text-decoration", { timeout: 180_000 })).textContent()) ?? "";
  const greedy = await ghostText();
  // Alt+] asks again explicitly and moves to the next item once the answer is in. At this cold place the ghost
  // text shown first may be the short window's, and the explicit answer (the whole window, then the
  // alternatives) comes seconds later on two cores beside the browser; the whole window's greedy suggestion may
  // differ from the short one, so only a second Alt+] that changes the text again shows two items reached VS Code.
  const changedFrom = (before, timeout) => page.waitForFunction((before) => {
    const now = document.querySelector(".ghost-text-decoration")?.textContent;
    return now && now !== before;
  }, before, { timeout });
  await page.keyboard.press("Alt+BracketRight");
  await changedFrom(greedy, 120_000);
  const second = await ghostText();
  await page.keyboard.press("Alt+BracketRight");
  await changedFrom(second, 10_000);
  console.log(`candidates cycled in VS Code: ${JSON.stringify(greedy)} then ${JSON.stringify(second)} then ${JSON.stringify(await ghostText())}`);
});
