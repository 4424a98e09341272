#!/usr/bin/env node
// A nib plugin (docs/plugins.md) that keeps private files away from the model.
//
// prompt: a completion or review of a file under `private/` or named `*.secret.*` is refused; context snippets
//         from such files are emptied (the list keeps its length, as the protocol requires).
//
// Node.js only, no npm packages. Copy it and edit isPrivate.
"use strict";

function isPrivate(path) {
  return /(^|\/)private\//.test(path) || /(^|\/)[^/]*\.secret\.[^/]*$/.test(path);
}

function prompt(params) {
  if (isPrivate(params.file.path)) {
    return { refuse: `${params.file.path} is private: it is never sent to the model` };
  }
  if (!params.snippets.some((s) => isPrivate(s.path))) {
    return null;
  }
  return { snippets: params.snippets.map((s) => (isPrivate(s.path) ? { path: s.path, text: "" } : s)) };
}

const HOOKS = { prompt };

function send(message) {
  const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", ...message }), "utf8");
  process.stdout.write(`Content-Length: ${body.length}\r\n\r\n`);
  process.stdout.write(body);
}

function handle(message) {
  if (message.method === "exit") {
    process.exit(0);
  }
  if (message.id === undefined) {
    return; // notifications: `initialized`
  }
  if (message.method === "initialize") {
    return send({ id: message.id, result: { hooks: Object.keys(HOOKS) } });
  }
  const hook = HOOKS[message.method];
  if (!hook) {
    return send({ id: message.id, result: null }); // `shutdown`, and methods of later protocol versions
  }
  // A plugin must answer every request: a bug here fails this one call (nib counts it), not the plugin.
  try {
    send({ id: message.id, result: hook(message.params) });
  } catch (err) {
    send({ id: message.id, error: { code: -32603, message: `${message.method}: ${err}` } });
  }
}

// Content-Length counts bytes, so frames are cut from bytes and only a whole body is decoded.
let pending = Buffer.alloc(0);
process.stdin.on("data", (chunk) => {
  pending = Buffer.concat([pending, chunk]);
  for (;;) {
    const end = pending.indexOf("\r\n\r\n");
    if (end < 0) {
      return;
    }
    const length = Number(/content-length:\s*(\d+)/i.exec(pending.subarray(0, end).toString("ascii"))?.[1]);
    if (!Number.isInteger(length)) {
      process.exit(1); // a frame without its length: the framing is lost, and nib starts us again
    }
    if (pending.length < end + 4 + length) {
      return;
    }
    const body = pending.subarray(end + 4, end + 4 + length);
    pending = pending.subarray(end + 4 + length);
    handle(JSON.parse(body.toString("utf8")));
  }
});
process.stdin.on("end", () => process.exit(0));
