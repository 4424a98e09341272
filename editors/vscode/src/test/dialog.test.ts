import { test } from "node:test";
import assert from "node:assert/strict";
import { MORE, splitActions } from "../dialog";

test("a question with a few answers shows them all as buttons", () => {
  assert.deepEqual(splitActions([]), { buttons: [], more: [] });
  assert.deepEqual(splitActions(["Retry", "Not now"]), { buttons: ["Retry", "Not now"], more: [] });
  assert.deepEqual(splitActions(["A", "B", "C"]), { buttons: ["A", "B", "C"], more: [] });
});

test("past three answers, the first and the last stay buttons and the others wait behind More choices", () => {
  const titles = ["Download SmolLM2 135M (98 MB)", "Download Gemma 3 270M (253 MB)", "Download Qwen2.5-Coder 7B (4.7 GB)",
    "Choose a file...", "Not now"];
  assert.deepEqual(splitActions(titles), {
    buttons: ["Download SmolLM2 135M (98 MB)", MORE, "Not now"],
    more: ["Download Gemma 3 270M (253 MB)", "Download Qwen2.5-Coder 7B (4.7 GB)", "Choose a file..."],
  });
  // Room for more buttons: more of the first ones stay.
  assert.deepEqual(splitActions(titles, 4), {
    buttons: ["Download SmolLM2 135M (98 MB)", "Download Gemma 3 270M (253 MB)", MORE, "Not now"],
    more: ["Download Qwen2.5-Coder 7B (4.7 GB)", "Choose a file..."],
  });
});
