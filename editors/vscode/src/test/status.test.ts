import { test } from "node:test";
import assert from "node:assert/strict";
import { initializationOptions, statusBarText, statusLines, userValue } from "../status";

test("the status bar shows loading, failure, and the last latency with cache hits", () => {
  assert.equal(statusBarText(undefined, true), "$(loading~spin) nib");
  assert.equal(statusBarText({ model: { state: "failed" } }, true), "$(error) nib");
  assert.equal(statusBarText({ model: { state: "ready" }, engine: {} }, true), "$(sparkle) nib");
  const ready = { model: { state: "ready" }, engine: { n_cache_answers: 3, last: { cache: "hot", total_ms: 41.6 } } };
  assert.equal(statusBarText(ready, true), "$(sparkle) nib 42 ms · 3 cached");
  assert.equal(statusBarText(ready, false), "$(sparkle) nib 42 ms · 3 cached (off)");
});

test("the full status names the model, documents, reuse and the last completion", () => {
  const lines = statusLines({
    version: "0.1.0",
    model: { path: "/m.gguf", state: "ready", error: null },
    n_open_documents: 2,
    n_indexed_files: 9,
    engine: { n_completed: 4, n_cache_answers: 1, n_prompt_tokens: 200, n_reused_tokens: 150, last: { cache: "hot", ttft_ms: 12, total_ms: 90 } },
  });
  assert.deepEqual(lines, [
    "nib 0.1.0: model /m.gguf (ready)",
    "2 documents open, 9 files indexed",
    "4 completions, 1 from the cache, 75 % of prompt tokens reused",
    "last: hot, first token 12 ms, done 90 ms",
  ]);
});

test("only the settings the user set become nib's initializationOptions", () => {
  const settings = { model: "/m.gguf", context: "window", deadlineMs: 500, partialAfterMs: 0, reviewOnSave: false };
  assert.deepEqual(initializationOptions(settings), {
    model: "/m.gguf",
    completion: { context: "window", deadline_ms: 500, partial_after_ms: 0 },
    review: { on_save: false },
  });
  // Nothing set: nib's config file decides everything.
  assert.deepEqual(initializationOptions({}), {});
  assert.deepEqual(initializationOptions({ model: "", minSeverity: "error" }), { review: { min_severity: "error" } });
});

test("a user's value comes from the narrowest scope that has one, never from the default", () => {
  assert.equal(userValue(undefined), undefined);
  assert.equal(userValue({}), undefined);
  assert.equal(userValue({ globalValue: 1 }), 1);
  assert.equal(userValue({ globalValue: 1, workspaceValue: 2 }), 2);
  assert.equal(userValue({ globalValue: 1, workspaceValue: 2, workspaceFolderValue: 3 }), 3);
  assert.equal(userValue({ globalValue: false }), false);
});
