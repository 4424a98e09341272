import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { NIB_SETTINGS } from "../settings.generated";
import { downloadText, downloadToken, initializationOptions, pluginProblem, PluginStatus, statusBarText, statusBarTooltip, statusLines, userValue } from "../status";

test("the status bar shows loading, failure, and the last latency with cache hits", () => {
  assert.equal(statusBarText(undefined, true), "$(loading~spin) nib");
  assert.equal(statusBarText({ model: { state: "failed" } }, true), "$(error) nib");
  assert.equal(statusBarText({ model: { state: "ready" }, engine: {} }, true), "$(sparkle) nib");
  const ready = { model: { state: "ready" }, engine: { n_cache_answers: 3, last: { cache: "hot", total_ms: 41.6 } } };
  assert.equal(statusBarText(ready, true), "$(sparkle) nib 42 ms · 3 cached");
  assert.equal(statusBarText(ready, false), "$(sparkle) nib 42 ms · 3 cached (off)");
});

test("the status bar warns while a ready model's server fails, and recovers with it", () => {
  const failing = { destination: "http://gpu-box:8012", problem: "cannot connect", n_failures: 2, retry_in_ms: 1500 };
  assert.equal(statusBarText({ model: { state: "ready" }, backend: failing }, true), "$(warning) nib: server problem");
  assert.equal(statusBarText({ model: { state: "ready" }, backend: failing }, false), "$(warning) nib: server problem (off)");
  // Unreachable at start: the model failed, and that says more than the backend.
  assert.equal(statusBarText({ model: { state: "failed" }, backend: failing }, true), "$(error) nib");
  const recovered = { destination: "http://gpu-box:8012", problem: null, n_failures: 0, retry_in_ms: null };
  assert.equal(statusBarText({ model: { state: "ready" }, engine: {}, backend: recovered }, true), "$(sparkle) nib");
});

test("the status bar warns while a plugin is down, and the full status counts what each plugin did", () => {
  const plugins: PluginStatus[] = [
    { name: "redact-secrets", builtin: true, state: "running", n_calls: 9, n_failures: 0, last_error: null, counts: { "aws-access-key": 2 } },
    { name: "house-style", state: "restarting", n_calls: 4, n_failures: 1, last_error: "exited", counts: {} },
  ];
  const status = { model: { state: "ready" }, engine: {}, plugins };
  assert.equal(statusBarText(status, true), "$(warning) nib: plugin problem");
  assert.equal(pluginProblem(status), "plugin house-style restarting: exited");
  const lines = statusLines(status);
  assert.ok(lines.includes("plugin redact-secrets: running, 9 calls; 2 aws-access-key"), lines.join("\n"));
  assert.ok(lines.includes("plugin house-style: restarting, 4 calls, 1 failed (last: exited)"), lines.join("\n"));
  assert.equal(pluginProblem({ plugins: [plugins[0]] }), undefined);
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

test("the full status says where prompts go and, while the server fails, why and when nib retries", () => {
  const local = statusLines({ model: { state: "ready" }, backend: { destination: "local", problem: null, n_failures: 0, retry_in_ms: null } });
  assert.equal(local[1], "prompts go to local");
  assert.equal(local.length, 4);
  const failing = statusLines({
    model: { path: "/m.gguf", state: "ready" },
    backend: { destination: "http://gpu-box:8012", problem: "llama-server engine: http://gpu-box:8012/props: cannot connect", n_failures: 3, retry_in_ms: 1500 },
  });
  assert.deepEqual(failing.slice(0, 3), [
    "nib ?: model /m.gguf (ready)",
    "prompts go to http://gpu-box:8012",
    "llama-server engine: http://gpu-box:8012/props: cannot connect (retrying in 1500 ms)",
  ]);
  // Not backing off (the next request tries again): no retry time.
  const next = statusLines({ backend: { destination: "http://gpu-box:8012", problem: "timed out", retry_in_ms: null } });
  assert.equal(next[2], "timed out");
  // A server without the field: no line about it.
  assert.ok(!statusLines({}).some((line) => line.startsWith("prompts go to")));
});

test("only the settings the user set become nib's initializationOptions, by nib's own names", () => {
  const set: Record<string, unknown> = {
    model: "/m.gguf", "completion.context": "window", "completion.deadlineMs": 500, "completion.partialAfterMs": 0,
    "review.onSave": false, "engine.nGpuLayers": 0,
  };
  assert.deepEqual(initializationOptions((name) => set[name]), {
    model: "/m.gguf",
    completion: { context: "window", deadline_ms: 500, partial_after_ms: 0 },
    review: { on_save: false },
    engine: { n_gpu_layers: 0 },
  });
  // Nothing set: nib's config file decides everything.
  assert.deepEqual(initializationOptions(() => undefined), {});
  const some: Record<string, unknown> = { model: "", "review.minSeverity": "error" };
  assert.deepEqual(initializationOptions((name) => some[name]), { review: { min_severity: "error" } });
});

test("the remote backend's settings become nib's engine section, empty strings left out", () => {
  const remote: Record<string, unknown> = {
    "engine.backend": "openai", "engine.url": "http://gpu-box:8000/v1", "engine.remoteModel": "qwen", "engine.apiKeyEnv": "",
  };
  assert.deepEqual(initializationOptions((name) => remote[name]), {
    engine: { backend: "openai", url: "http://gpu-box:8000/v1", remote_model: "qwen" },
  });
});

test("every setting in the map is one VS Code declares", () => {
  // Read at run time: out/test/ is two folders below package.json.
  const packageJson = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
  const declared = Object.keys(packageJson.contributes.configuration.properties);
  for (const [name] of NIB_SETTINGS) {
    assert.ok(declared.includes(`nib.${name}`), `nib.${name}`);
  }
});

test("a user's value comes from the narrowest scope that has one, never from the default", () => {
  assert.equal(userValue(undefined), undefined);
  assert.equal(userValue({}), undefined);
  assert.equal(userValue({ globalValue: 1 }), 1);
  assert.equal(userValue({ globalValue: 1, workspaceValue: 2 }), 2);
  assert.equal(userValue({ globalValue: 1, workspaceValue: 2, workspaceFolderValue: 3 }), 3);
  assert.equal(userValue({ globalValue: false }), false);
});

test("while the model downloads, the status bar shows how far it got and the tooltip and status say what", () => {
  const download = { model: "smollm2-135m", received: 44_262_000, total: 98_362_432 };
  // The model is missing meanwhile: the download is what the user waits for.
  const downloading = { model: { state: "failed", error: "no model" }, download };
  assert.equal(statusBarText(downloading, true), "$(cloud-download) nib 44%");
  assert.equal(statusBarTooltip(downloading), "nib is downloading smollm2-135m: 44 of 98 MB (44 %) (click to cancel)");
  assert.ok(statusLines(downloading).includes("downloading smollm2-135m: 44 of 98 MB (44 %)"));
  // Not 100 % before the last byte, and never past it.
  assert.equal(statusBarText({ download: { model: "m", received: 98_362_431, total: 98_362_432 } }, true), "$(cloud-download) nib 99%");
  assert.equal(statusBarText({ download: { model: "m", received: 5, total: 4 } }, true), "$(cloud-download) nib 100%");
  // A size not known yet: no percentage.
  assert.equal(statusBarText({ download: { model: "m", received: 0, total: null } }, true), "$(cloud-download) nib");
  assert.equal(downloadText({ model: "m", received: 2_500_000 }), "m: 3 MB");
  // Done: the download is null again and the model's state speaks.
  assert.equal(statusBarText({ model: { state: "loading" }, download: null }, true), "$(loading~spin) nib: loading");
  assert.equal(statusBarTooltip({ model: { state: "ready" }, download: null }), undefined);
  // The status-bar item cancels the download with its progress token.
  assert.equal(downloadToken(download), "nib/download/smollm2-135m");
  assert.equal(downloadToken({ received: 1 }), undefined);
  assert.equal(statusBarTooltip({ download: { received: 1, total: 2 } }), "nib is downloading the model: 0 of 0 MB (50 %)");
  assert.equal(statusBarTooltip({ backend: { problem: "cannot connect" } }), "cannot connect");
});
