import { test } from "node:test";
import assert from "node:assert/strict";
import { label, NextEdit, NextEditState, onEdit, pickEdit } from "../nextEdit";

const edit = (line: number, start: number, end: number, newText = "total", uri = "file:///a.py"): NextEdit => ({
  id: `${line}`,
  uri,
  range: { start: { line, character: start }, end: { line, character: end } },
  newText,
  kind: "rename",
  command: { title: "Accept next edit", command: "nib.acceptNextEdit", arguments: [`${line}`] },
});

test("the first proposal in the document is shown; others, and no answer, show nothing", () => {
  const answer = { edits: [edit(9, 0, 3, "x", "file:///b.py"), edit(3, 8, 13), edit(4, 1, 6)], targets: [] };
  assert.equal(pickEdit(answer, "file:///a.py")?.id, "3");
  assert.equal(pickEdit(answer, "file:///c.py"), undefined);
  assert.equal(pickEdit({ edits: [], targets: [] }, "file:///a.py"), undefined);
  assert.equal(pickEdit(null, "file:///a.py"), undefined);
  assert.equal(pickEdit({}, "file:///a.py"), undefined);
});

test("the label is the new text's first line, or says it deletes", () => {
  assert.equal(label(edit(3, 8, 13)), "⇥ total");
  assert.equal(label(edit(3, 8, 13, "a(\n  b)")), "⇥ a( …");
  assert.equal(label(edit(3, 8, 13, "")), "⇥ delete (rename)");
});

test("the cursor is on the proposal from its start to its end", () => {
  const e = edit(3, 8, 13);
  assert.ok(onEdit(e, { line: 3, character: 8 }));
  assert.ok(onEdit(e, { line: 3, character: 13 }));
  assert.ok(!onEdit(e, { line: 3, character: 7 }));
  assert.ok(!onEdit(e, { line: 3, character: 14 }));
  assert.ok(!onEdit(e, { line: 2, character: 10 }));
});

test("the key jumps to the proposal first, then applies it", () => {
  const state = new NextEditState();
  assert.equal(state.press({ line: 1, character: 11 }), "none");
  state.show(edit(3, 8, 13), 7, 1);
  assert.equal(state.version, 7);
  assert.equal(state.press({ line: 1, character: 11 }), "jump");
  // The jump moves the cursor to the proposal's line: that keeps it.
  assert.equal(state.moved(3), false);
  assert.equal(state.press({ line: 3, character: 8 }), "accept");
});

test("with the cursor already on the proposal, the first press applies it", () => {
  const state = new NextEditState();
  state.show(edit(3, 8, 13), 7, 3);
  assert.equal(state.press({ line: 3, character: 10 }), "accept");
});

test("moving along the line it was asked from keeps the proposal; leaving both lines clears it", () => {
  const state = new NextEditState();
  state.show(edit(3, 8, 13), 7, 1);
  assert.equal(state.moved(1), false);
  assert.equal(state.moved(3), false);
  assert.equal(state.moved(2), true);
  assert.equal(state.edit, undefined);
  assert.equal(state.press({ line: 3, character: 8 }), "none");
});
