// nib for VS Code: starts `nib serve`, and lets vscode-languageclient provide inline
// completions (LSP 3.18), diagnostics and quick fixes; adds a status-bar item and commands, tells
// nib where the cursor rests (nib/cursorRest) and asks again when nib says a suggestion is ready.
import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, ServerOptions } from "vscode-languageclient/node";
import { lspTriggerKind, RestTimer, sameSpot, Spot } from "./rest";
import { initializationOptions, NibStatus, pluginProblem, statusBarText, statusLines, userValue } from "./status";

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
  const set = <T>(key: string): T | undefined => userValue(config.inspect<T>(key));
  return initializationOptions({
    model: set<string>("model"),
    context: set<string>("completion.context"),
    deadlineMs: set<number>("completion.deadlineMs"),
    partialAfterMs: set<number>("completion.partialAfterMs"),
    reviewOnSave: set<boolean>("review.onSave"),
    minSeverity: set<string>("review.minSeverity"),
    backend: set<string>("engine.backend"),
    url: set<string>("engine.url"),
    remoteModel: set<string>("engine.remoteModel"),
    apiKeyEnv: set<string>("engine.apiKeyEnv"),
  });
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const config = vscode.workspace.getConfiguration("nib");
  enabled = config.get<boolean>("completion.enabled", true);
  const serverOptions: ServerOptions = { command: config.get<string>("path", "nib"), args: ["serve"] };
  const clientOptions: LanguageClientOptions = {
    documentSelector: SELECTOR,
    initializationOptions: nibOptions(),
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

  const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  item.command = "nib.showStatus";
  item.text = statusBarText(undefined, enabled);
  item.show();
  const refresh = async () => {
    const current = await status();
    item.text = statusBarText(current, enabled);
    item.tooltip = current?.backend?.problem ?? pluginProblem(current);
  };
  const timer = setInterval(refresh, 2000);

  context.subscriptions.push(
    item,
    { dispose: () => clearInterval(timer) },
    rest,
    // Each move, edit or editor switch starts the wait for rest again.
    vscode.window.onDidChangeTextEditorSelection(() => rest.touch()),
    vscode.window.onDidChangeActiveTextEditor(() => rest.touch()),
    vscode.workspace.onDidChangeTextDocument(() => rest.touch()),
    // Changed settings reach nib at once; it says which ones wait for a restart (the model).
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("nib") && client?.isRunning()) {
        void client.sendNotification("workspace/didChangeConfiguration", { settings: { nib: nibOptions() } })
          .catch(() => undefined);
      }
    }),
    vscode.commands.registerCommand("nib.toggleCompletion", async () => {
      enabled = !enabled;
      await refresh();
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
      const text = current ? statusLines(current).join("\n") : "nib is not running";
      await vscode.window.showInformationMessage(text, { modal: true });
    }),
  );
  await client.start();
  rest.touch();
  await refresh();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
