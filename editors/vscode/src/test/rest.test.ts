import { test } from "node:test";
import assert from "node:assert/strict";
import { lspTriggerKind, RestTimer, sameSpot, Spot } from "../rest";

const at = (line: number, character: number, version = 1, uri = "file:///a.py"): Spot => ({
  textDocument: { uri, version },
  position: { line, character },
});

/** A RestTimer over a cursor the test moves, with the spots it sent. */
function setup(delayMs = 250) {
  const sent: Spot[] = [];
  const state: { cursor: Spot | undefined } = { cursor: at(0, 0) };
  const rest = new RestTimer(delayMs, () => state.cursor, (spot) => sent.push(spot));
  return { rest, sent, state };
}

test("a spot is the same only with the same uri, version, line and character", () => {
  assert.ok(sameSpot(at(3, 4), at(3, 4)));
  assert.ok(!sameSpot(at(3, 4), at(3, 5)));
  assert.ok(!sameSpot(at(3, 4), at(4, 4)));
  assert.ok(!sameSpot(at(3, 4), at(3, 4, 2)));
  assert.ok(!sameSpot(at(3, 4), at(3, 4, 1, "file:///b.py")));
  assert.ok(!sameSpot(undefined, at(3, 4)));
  assert.ok(!sameSpot(at(3, 4), undefined));
});

test("the spot is sent once the cursor has rested, read when the wait ends", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { rest, sent, state } = setup();
  rest.touch();
  t.mock.timers.tick(249);
  assert.deepEqual(sent, []);
  state.cursor = at(2, 7);
  t.mock.timers.tick(1);
  assert.deepEqual(sent, [at(2, 7)]);
});

test("typing restarts the wait: a burst of keystrokes sends one spot, after the last", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { rest, sent, state } = setup();
  for (let i = 1; i <= 5; i++) {
    state.cursor = at(0, i, i);
    rest.touch();
    t.mock.timers.tick(100);
  }
  assert.deepEqual(sent, []);
  t.mock.timers.tick(150);
  assert.deepEqual(sent, [at(0, 5, 5)]);
});

test("the same spot is not sent twice in a row; coming back after another one sends it again", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { rest, sent, state } = setup();
  rest.touch();
  t.mock.timers.tick(250);
  rest.touch(); // e.g. the editor was focused again, the cursor did not move
  t.mock.timers.tick(250);
  assert.deepEqual(sent, [at(0, 0)]);
  state.cursor = at(0, 0, 2); // an edit that left the cursor in place: a new version
  rest.touch();
  t.mock.timers.tick(250);
  state.cursor = at(5, 1);
  rest.touch();
  t.mock.timers.tick(250);
  state.cursor = at(0, 0, 2);
  rest.touch();
  t.mock.timers.tick(250);
  assert.deepEqual(sent, [at(0, 0), at(0, 0, 2), at(5, 1), at(0, 0, 2)]);
});

test("nothing is sent without a nib document, after dispose, or with the delay at 0", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { rest, sent, state } = setup();
  state.cursor = undefined;
  rest.touch();
  t.mock.timers.tick(250);
  state.cursor = at(1, 1);
  rest.touch();
  rest.dispose();
  t.mock.timers.tick(1000);
  assert.deepEqual(sent, []);

  const off = setup(0);
  off.rest.touch();
  t.mock.timers.tick(1000);
  assert.deepEqual(off.sent, []);
});

test("VS Code's trigger kinds become LSP's: Invoke (0) is Invoked (1), Automatic (1) is Automatic (2)", () => {
  assert.equal(lspTriggerKind(0), 1);
  assert.equal(lspTriggerKind(1), 2);
});
