// nib for VS Code: starts `nib serve`, and lets vscode-languageclient provide inline
// completions (LSP 3.18), diagnostics and quick fixes; adds a status-bar item and commands.
import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, ServerOptions } from "vscode-languageclient/node";
import { initializationOptions, NibStatus, statusBarText, statusLines } from "./status";

let client: LanguageClient | undefined;
let enabled = true;

const LANGUAGES = ["python", "rust", "javascript", "javascriptreact", "typescript", "typescriptreact", "go", "c", "cpp", "java", "lua"];

async function status(): Promise<NibStatus | undefined> {
  try {
    return client?.isRunning() ? await client.sendRequest<NibStatus>("nib/status") : undefined;
  } catch {
    return undefined;
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const config = vscode.workspace.getConfiguration("nib");
  enabled = config.get<boolean>("completion.enabled", true);
  const serverOptions: ServerOptions = { command: config.get<string>("path", "nib"), args: ["serve"] };
  const clientOptions: LanguageClientOptions = {
    documentSelector: LANGUAGES.map((language) => ({ language })),
    initializationOptions: initializationOptions({
      model: config.get<string>("model"),
      context: config.get<string>("completion.context"),
      deadlineMs: config.get<number>("completion.deadlineMs"),
      reviewOnSave: config.get<boolean>("review.onSave"),
      minSeverity: config.get<string>("review.minSeverity"),
    }),
    middleware: {
      // Toggling completion off stops asking; the server keeps its caches.
      provideInlineCompletionItems: (document, position, ctx, token, next) =>
        enabled ? next(document, position, ctx, token) : undefined,
    },
  };
  client = new LanguageClient("nib", "nib", serverOptions, clientOptions);
  client.registerProposedFeatures();

  const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  item.command = "nib.showStatus";
  item.text = statusBarText(undefined, enabled);
  item.show();
  const refresh = async () => {
    item.text = statusBarText(await status(), enabled);
  };
  const timer = setInterval(refresh, 2000);

  context.subscriptions.push(
    item,
    { dispose: () => clearInterval(timer) },
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
  await refresh();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
