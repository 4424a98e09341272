// nib for VS Code: starts `nib serve` (the binary bundled in server/, or the one nib.path names),
// and lets vscode-languageclient provide inline completions (LSP 3.18; several items are cycled with
// VS Code's own Alt+] and Alt+[), diagnostics and quick fixes, and the download's progress; shows
// nib's questions (its first-run dialog) with at most three buttons; answers nib/chooseModelFile
// with a file dialog; adds a status-bar item and
// commands, tells nib where the cursor rests (nib/cursorRest), asks again when nib says a suggestion
// is ready, and shows the next edit nib proposes after a change (nib/nextEdits) as decorations,
// jumped to and applied with Alt+N.
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import {
  LanguageClient, LanguageClientOptions, MessageActionItem, MessageType, ServerOptions, ShowMessageRequest, ShowMessageRequestParams,
} from "vscode-languageclient/node";
import { MORE, splitActions } from "./dialog";
import { label, NextEditsAnswer, NextEditState, pickEdit } from "./nextEdit";
import { lspTriggerKind, RestTimer, sameSpot, Spot } from "./rest";
import { binaryName, resolveServer } from "./server";
import { downloadText, downloadToken, initializationOptions, NibStatus, statusBarText, statusBarTooltip, statusLines, userValue } from "./status";

let client: LanguageClient | undefined;
let enabled = true;

const LANGUAGES = ["python", "rust", "javascript", "javascriptreact", "typescript", "typescriptreact", "go", "c", "cpp", "java", "lua"];
const SELECTOR = LANGUAGES.map((language) => ({ language }));

/** The cursor in the active editor, if nib has that document. */
function currentSpot(): Spot | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!client?.isRunning() || !editor || vscode.languages.match(SELECTOR, editor.document) === 0) {
    return undefined;
  }
  const c2p = client.code2ProtocolConverter;
  return {
    textDocument: { uri: c2p.asUri(editor.document.uri), version: editor.document.version },
    position: c2p.asPosition(editor.selection.active),
  };
}

async function status(): Promise<NibStatus | undefined> {
  try {
    return client?.isRunning() ? await client.sendRequest<NibStatus>("nib/status") : undefined;
  } catch {
    return undefined;
  }
}

/** nib's settings as the user set them (not the defaults VS Code fills in: nib's config file decides those). */
function nibOptions(): Record<string, unknown> {
  const config = vscode.workspace.getConfiguration("nib");
  return initializationOptions((name) => userValue(config.inspect(name)));
}

/** Shows nib's next edit in the active editor and carries out the jump-or-accept key. */
class NextEdits implements vscode.Disposable {
  private readonly state = new NextEditState();
  private editor: vscode.TextEditor | undefined;
  private asked = 0;
  // The text a proposal replaces, struck through; its new text follows it. Disposed with the extension.
  private readonly replaced = vscode.window.createTextEditorDecorationType({
    backgroundColor: new vscode.ThemeColor("diffEditor.removedTextBackground"),
    textDecoration: "line-through",
    overviewRulerColor: new vscode.ThemeColor("editorOverviewRuler.modifiedForeground"),
    overviewRulerLane: vscode.OverviewRulerLane.Center,
  });
  private readonly proposed = vscode.window.createTextEditorDecorationType({
    after: {
      backgroundColor: new vscode.ThemeColor("diffEditor.insertedTextBackground"),
      color: new vscode.ThemeColor("editorGhostText.foreground"),
      margin: "0 0 0 0.2em",
    },
  });

  constructor(private readonly lsp: () => LanguageClient | undefined) {}

  /** Asks for the next edits at `spot` (where the cursor rested) and shows the first in its document. */
  async request(spot: Spot): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const client = this.lsp();
    if (!editor || !client?.isRunning()) {
      return;
    }
    // A proposal for this very text is shown (the cursor rested on it after the jump): keep it.
    if (this.editor === editor && this.state.version === spot.textDocument.version) {
      return;
    }
    const asked = ++this.asked;
    const answer = await client
      .sendRequest<NextEditsAnswer>("nib/nextEdits", { textDocument: { uri: spot.textDocument.uri }, position: spot.position })
      .catch(() => undefined);
    const edit = pickEdit(answer, spot.textDocument.uri);
    // Stale: a newer request went out, or the document or editor changed while nib answered.
    if (asked !== this.asked || vscode.window.activeTextEditor !== editor
      || editor.document.version !== spot.textDocument.version) {
      return;
    }
    this.clear();
    if (edit) {
      this.state.show(edit, editor.document.version, spot.position.line);
      this.editor = editor;
      const range = client.protocol2CodeConverter.asRange(edit.range);
      editor.setDecorations(this.replaced, range.isEmpty ? [] : [range]);
      editor.setDecorations(this.proposed, [{
        range: new vscode.Range(range.end, range.end),
        hoverMessage: `nib: ${edit.kind} (Alt+N jumps here, then applies it; Escape dismisses)`,
        renderOptions: { after: { contentText: label(edit) } },
      }]);
      void vscode.commands.executeCommand("setContext", "nib.nextEditVisible", true);
    }
  }

  clear(): void {
    this.editor?.setDecorations(this.replaced, []);
    this.editor?.setDecorations(this.proposed, []);
    this.editor = undefined;
    if (this.state.edit) {
      this.state.clear();
    }
    void vscode.commands.executeCommand("setContext", "nib.nextEditVisible", false);
  }

  /** The document changed, the selection moved or another editor came up. */
  changed(event: { document?: vscode.TextDocument; line?: number; editor?: boolean }): void {
    if (!this.state.edit) {
      return;
    }
    if (event.editor || (event.document === this.editor?.document && event.document?.version !== this.state.version)
      || (event.line !== undefined && this.state.moved(event.line))) {
      this.clear();
    }
  }

  async jumpOrAccept(): Promise<void> {
    const editor = this.editor;
    const edit = this.state.edit;
    const client = this.lsp();
    if (!editor || !edit || !client) {
      return;
    }
    const range = client.protocol2CodeConverter.asRange(edit.range);
    if (this.state.press(client.code2ProtocolConverter.asPosition(editor.selection.active)) === "jump") {
      editor.selection = new vscode.Selection(range.start, range.start);
      editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      return;
    }
    this.clear();
    const change = new vscode.WorkspaceEdit();
    change.replace(editor.document.uri, range, edit.newText);
    // The command tells nib the proposal was taken (its acceptance figures in nib/status).
    if ((await vscode.workspace.applyEdit(change)) && edit.command) {
      await client.sendRequest("workspace/executeCommand", { command: edit.command.command, arguments: edit.command.arguments })
        .catch(() => undefined);
    }
  }

  dispose(): void {
    this.clear();
    this.replaced.dispose();
    this.proposed.dispose();
  }
}

/** Whether a file is there and may be run. */
function runnable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The model file the user picks when nib's first-run dialog offers "Choose a file...", or null. */
async function chooseModelFile(): Promise<{ path: string } | null> {
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: false,
    canSelectFolders: false,
    filters: { "GGUF models": ["gguf"] },
    openLabel: "Use this model",
    title: "nib: choose a GGUF model",
  });
  return picked?.[0] ? { path: picked[0].fsPath } : null;
}

/** A server's question with its answers as buttons, those past three behind "More choices..." (a quick pick). */
async function ask(params: ShowMessageRequestParams): Promise<MessageActionItem | null> {
  const actions = params.actions ?? [];
  const { buttons, more } = splitActions(actions.map((action) => action.title));
  const show = params.type === MessageType.Error ? vscode.window.showErrorMessage
    : params.type === MessageType.Warning ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
  let title = await show(params.message, ...buttons);
  if (title === MORE) {
    title = await vscode.window.showQuickPick(more, { title: params.message, placeHolder: "Pick one (Escape: none)" });
  }
  return actions.find((action) => action.title === title) ?? null;
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const config = vscode.workspace.getConfiguration("nib");
  enabled = config.get<boolean>("completion.enabled", true);
  const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  context.subscriptions.push(item);
  item.show();
  const server = resolveServer({
    setting: config.get<string>("path", ""),
    bundled: context.asAbsolutePath(path.join("server", binaryName(process.platform))),
    pathEnv: process.env.PATH ?? "",
    platform: process.platform,
    runnable,
  });
  if ("error" in server) {
    item.text = "$(error) nib";
    item.tooltip = server.error;
    const openSettings = { title: "Open nib.path", command: "workbench.action.openSettings", arguments: ["nib.path"] };
    item.command = openSettings;
    void vscode.window.showErrorMessage(server.error, openSettings.title).then((choice) => {
      if (choice) {
        void vscode.commands.executeCommand(openSettings.command, ...openSettings.arguments);
      }
    });
    return;
  }
  const serverOptions: ServerOptions = { command: server.command, args: ["serve"] };
  const clientOptions: LanguageClientOptions = {
    documentSelector: SELECTOR,
    // Only at start: nib may then ask for a model file (nib/chooseModelFile) in its first-run dialog, and it
    // pushes its status when it changes (nib/statusChanged) instead of being asked for it.
    initializationOptions: { ...nibOptions(), chooseModelFile: true, statusChanged: true },
    middleware: {
      // Toggling completion off stops asking; the server keeps its caches. The trigger kind is
      // renumbered for LSP (see lspTriggerKind): an explicit trigger (Alt+\) must reach nib as
      // Invoked (1), so nib waits for the whole suggestion instead of answering at its deadline.
      provideInlineCompletionItems: (document, position, ctx, token, next) =>
        enabled
          ? next(document, position, { ...ctx, triggerKind: lspTriggerKind(ctx.triggerKind) as number }, token)
          : undefined,
    },
  };
  client = new LanguageClient("nib", "nib", serverOptions, clientOptions);
  client.registerProposedFeatures();
  // nib answered an automatic request empty (a cold file was evaluated) or with the start of its suggestion;
  // the whole suggestion is now cached: ask again if the cursor is still where it was.
  client.onNotification("nib/suggestionReady", (spot: Spot) => {
    if (enabled && sameSpot(currentSpot(), spot)) {
      void vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
    }
  });
  // Toggled off, nothing is asked for, so there is nothing to warm either.
  const rest = new RestTimer(config.get<number>("completion.restMs", 250), () => (enabled ? currentSpot() : undefined),
    (spot) => client?.sendNotification("nib/cursorRest", spot).catch(() => undefined));
  // Next edits ask after a change or a move, also with inline completion toggled off.
  const nextEdits = new NextEdits(() => client);
  const nextRest = new RestTimer(config.get<number>("completion.restMs", 250),
    () => (vscode.workspace.getConfiguration("nib").get<boolean>("nextEdits.enabled", true) ? currentSpot() : undefined),
    (spot) => void nextEdits.request(spot));

  client.onRequest("nib/chooseModelFile", chooseModelFile);

  item.command = "nib.showStatus";
  // The latest status nib pushed (nib/statusChanged): the status bar follows it, and a download's percentage moves.
  let latest: NibStatus | undefined;
  const show = () => {
    item.text = statusBarText(latest, enabled);
    item.tooltip = statusBarTooltip(latest);
  };
  show();
  client.onNotification("nib/statusChanged", (current: NibStatus) => {
    latest = current;
    show();
  });

  context.subscriptions.push(
    rest,
    nextRest,
    nextEdits,
    // Each move, edit or editor switch starts the wait for rest again.
    vscode.window.onDidChangeTextEditorSelection((event) => {
      rest.touch();
      nextRest.touch();
      nextEdits.changed({ line: event.selections[0]?.active.line });
    }),
    vscode.window.onDidChangeActiveTextEditor(() => {
      rest.touch();
      nextRest.touch();
      nextEdits.changed({ editor: true });
    }),
    vscode.workspace.onDidChangeTextDocument((event) => {
      rest.touch();
      nextRest.touch();
      nextEdits.changed({ document: event.document });
    }),
    vscode.commands.registerCommand("nib.nextEdit.jumpOrAccept", () => nextEdits.jumpOrAccept()),
    vscode.commands.registerCommand("nib.nextEdit.dismiss", () => nextEdits.clear()),
    vscode.commands.registerCommand("nib.nextEdit.request", () => {
      nextEdits.clear();
      const spot = currentSpot();
      return spot ? nextEdits.request(spot) : undefined;
    }),
    // Changed settings reach nib at once; it says which ones wait for a restart (the model).
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("nib") && client?.isRunning()) {
        void client.sendNotification("workspace/didChangeConfiguration", { settings: { nib: nibOptions() } })
          .catch(() => undefined);
      }
    }),
    vscode.commands.registerCommand("nib.toggleCompletion", () => {
      enabled = !enabled;
      show();
    }),
    vscode.commands.registerCommand("nib.reviewFile", async () => {
      const editor = vscode.window.activeTextEditor;
      if (client && editor) {
        await client.sendRequest("workspace/executeCommand", {
          command: "nib.review",
          arguments: [editor.document.uri.toString()],
        });
      }
    }),
    vscode.commands.registerCommand("nib.showStatus", async () => {
      const current = await status();
      // VS Code shows a language server's progress in the status bar, where it has no cancel button: this is it.
      const download = current?.download;
      const token = download ? downloadToken(download) : undefined;
      if (download && token) {
        const cancel = "Cancel download";
        if ((await vscode.window.showInformationMessage(`nib is downloading ${downloadText(download)}`, cancel)) === cancel) {
          await client?.sendNotification("window/workDoneProgress/cancel", { token }).catch(() => undefined);
        }
        return;
      }
      const text = current ? statusLines(current).join("\n") : "nib is not running";
      await vscode.window.showInformationMessage(text, { modal: true });
    }),
  );
  await client.start();
  // In place of vscode-languageclient's own handler, which makes every answer a button: registered once
  // the client runs, as a handler registered before start() is replaced by the client's.
  context.subscriptions.push(client.onRequest(ShowMessageRequest.type, ask));
  rest.touch();
  nextRest.touch();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
