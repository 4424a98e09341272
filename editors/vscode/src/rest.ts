// Warm ahead (nib/cursorRest) and asking again (nib/suggestionReady): the timing and matching
// logic, pure, so it is unit-tested without VS Code.

/** Where the cursor is: the params of nib/cursorRest and nib/suggestionReady. */
export interface Spot {
  textDocument: { uri: string; version: number };
  position: { line: number; character: number };
}

export function sameSpot(a: Spot | undefined, b: Spot | undefined): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    a.textDocument.uri === b.textDocument.uri &&
    a.textDocument.version === b.textDocument.version &&
    a.position.line === b.position.line &&
    a.position.character === b.position.character
  );
}

/**
 * Calls `send` once the cursor has rested for `delayMs`: every `touch()` (a cursor move, an
 * edit, another editor) starts the wait again, so typing sends nothing. The spot is read when
 * the wait ends, and not sent again while it is the one sent last (resting elsewhere and coming
 * back sends it again: nib may have warmed another prompt since). `delayMs` <= 0 turns it off.
 */
export class RestTimer {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private last: Spot | undefined;

  constructor(
    private readonly delayMs: number,
    private readonly current: () => Spot | undefined,
    private readonly send: (spot: Spot) => void,
  ) {}

  touch(): void {
    this.dispose();
    if (this.delayMs > 0) {
      this.timer = setTimeout(() => this.rested(), this.delayMs);
    }
  }

  dispose(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private rested(): void {
    this.timer = undefined;
    const spot = this.current();
    if (spot && !sameSpot(spot, this.last)) {
      this.last = spot;
      this.send(spot);
    }
  }
}

/**
 * LSP's InlineCompletionTriggerKind from VS Code's. VS Code counts from 0 (Invoke = 0,
 * Automatic = 1), LSP from 1 (Invoked = 1, Automatic = 2), and vscode-languageclient 9 copies
 * the number as it is: without this, nib would take every automatic request for an explicit one.
 */
export function lspTriggerKind(vscodeKind: number): 1 | 2 {
  return vscodeKind === 0 ? 1 : 2;
}
