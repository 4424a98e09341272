import { test } from "node:test";
import assert from "node:assert/strict";
import { binaryName, Lookup, resolveServer, TARGETS } from "../server";

/** A lookup on a machine where only `files` can be run. */
function lookup(setting: string, files: string[], platform = "linux", pathEnv = "/usr/local/bin:/usr/bin"): Lookup {
  return { setting, bundled: "/ext/server/nib", pathEnv, platform, runnable: (file) => files.includes(file) };
}

test("each target carries nib, with .exe on Windows", () => {
  assert.deepEqual(TARGETS.map(binaryName), ["nib", "nib", "nib", "nib.exe"]);
  assert.equal(binaryName(process.platform === "win32" ? "win32" : "linux"), process.platform === "win32" ? "nib.exe" : "nib");
});

test("the bundled binary runs unless nib.path names another", () => {
  assert.deepEqual(resolveServer(lookup("", ["/ext/server/nib", "/usr/bin/nib"])), { command: "/ext/server/nib" });
  assert.deepEqual(resolveServer(lookup("/opt/nib/nib", ["/ext/server/nib", "/opt/nib/nib"])), { command: "/opt/nib/nib" });
  // A bare name is looked up on PATH, in its order.
  assert.deepEqual(resolveServer(lookup("nib", ["/ext/server/nib", "/usr/bin/nib"])), { command: "/usr/bin/nib" });
  assert.deepEqual(resolveServer(lookup(" nib-dev ", ["/usr/local/bin/nib-dev", "/usr/bin/nib-dev"])), { command: "/usr/local/bin/nib-dev" });
});

test("an extension built without a binary starts nib from PATH", () => {
  assert.deepEqual(resolveServer(lookup("", ["/usr/bin/nib"])), { command: "/usr/bin/nib" });
});

test("with no binary to start, the error says which setting to fix or what to install", () => {
  const named = resolveServer(lookup("/opt/nib/nib", ["/ext/server/nib"]));
  assert.ok("error" in named && named.error.includes('nib.path is "/opt/nib/nib"'), JSON.stringify(named));
  const none = resolveServer(lookup("", [], "linux", ""));
  assert.ok("error" in none, JSON.stringify(none));
  assert.match(none.error, /no nib server for linux \(\/ext\/server\/nib is missing\) and there is no nib on PATH/);
  assert.match(none.error, /set nib.path/);
});

test("on Windows a bare name finds nib.exe, PATH splits on semicolons and a backslash makes a path", () => {
  const windows = (setting: string, files: string[]) => resolveServer(lookup(setting, files, "win32", "C:\\tools;C:\\nib\\bin"));
  assert.deepEqual(windows("nib", ["C:\\nib\\bin\\nib.exe"]), { command: "C:\\nib\\bin\\nib.exe" });
  assert.deepEqual(windows("", ["C:\\tools\\nib.exe"]), { command: "C:\\tools\\nib.exe" });
  assert.deepEqual(windows("D:\\nib.exe", ["D:\\nib.exe"]), { command: "D:\\nib.exe" });
  assert.ok("error" in windows("nib", []));
});
