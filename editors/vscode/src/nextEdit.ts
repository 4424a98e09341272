// Next edits (nib/nextEdits): which proposal to show, its words, and what the jump-or-accept key
// does, pure, so it is unit-tested without VS Code.

export interface LspPosition {
  line: number;
  character: number;
}

export interface LspRange {
  start: LspPosition;
  end: LspPosition;
}

/** One proposal of nib/nextEdits (see docs/lsp-extensions.md). */
export interface NextEdit {
  id: string;
  uri: string;
  range: LspRange;
  newText: string;
  kind: string;
  command?: { title: string; command: string; arguments?: unknown[] };
}

export interface NextEditsAnswer {
  edits?: NextEdit[];
  targets?: { uri: string; range: LspRange; kind: string }[];
}

/** The proposal to show in the document at `uri`: nib orders them nearest the cursor first. */
export function pickEdit(answer: NextEditsAnswer | null | undefined, uri: string): NextEdit | undefined {
  return answer?.edits?.find((edit) => edit.uri === uri);
}

/** The words after the proposal: its new text, the first line of it ("⇥ total"), or that it deletes. */
export function label(edit: NextEdit): string {
  if (edit.newText === "") {
    return `⇥ delete (${edit.kind})`;
  }
  const [first, ...rest] = edit.newText.split("\n");
  return `⇥ ${first}${rest.length > 0 ? " …" : ""}`;
}

function before(a: LspPosition, b: LspPosition): boolean {
  return a.line < b.line || (a.line === b.line && a.character < b.character);
}

/** Whether the cursor is on the proposal (its ends included): the key applies it from there. */
export function onEdit(edit: NextEdit, cursor: LspPosition): boolean {
  return !before(cursor, edit.range.start) && !before(edit.range.end, cursor);
}

/**
 * What is shown and what the key does next: the first press moves the cursor to the proposal
 * (unless it is there already), the next applies it. The proposal goes away once the document
 * changes, or the cursor leaves both the line it was asked from and the proposal's line.
 */
export class NextEditState {
  private shown: { edit: NextEdit; version: number; originLine: number; jumped: boolean } | undefined;

  show(edit: NextEdit, version: number, originLine: number): void {
    this.shown = { edit, version, originLine, jumped: false };
  }

  get edit(): NextEdit | undefined {
    return this.shown?.edit;
  }

  /** The version of the document the proposal was made for. */
  get version(): number | undefined {
    return this.shown?.version;
  }

  clear(): void {
    this.shown = undefined;
  }

  /** The key was pressed with the cursor at `cursor`. */
  press(cursor: LspPosition): "jump" | "accept" | "none" {
    if (!this.shown) {
      return "none";
    }
    if (this.shown.jumped || onEdit(this.shown.edit, cursor)) {
      return "accept";
    }
    this.shown.jumped = true;
    return "jump";
  }

  /** The cursor moved to `line`: true when that clears the proposal. */
  moved(line: number): boolean {
    if (this.shown && line !== this.shown.originLine && line !== this.shown.edit.range.start.line) {
      this.clear();
      return true;
    }
    return false;
  }
}
