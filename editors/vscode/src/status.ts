// What nib/status says, in words, and the settings nib gets: pure, so it is unit-tested without VS Code.

import { NIB_SETTINGS } from "./settings.generated";

export interface NibStatus {
  version?: string;
  model?: { path?: string; state?: string; error?: string | null };
  n_open_documents?: number;
  n_indexed_files?: number;
  engine?: {
    n_completed?: number;
    n_cache_answers?: number;
    n_prompt_tokens?: number;
    n_reused_tokens?: number;
    last?: { cache?: string; ttft_ms?: number; total_ms?: number } | null;
  };
  /** Where prompts go ("local" or a server's URL) and what went wrong with the last request there. */
  backend?: {
    destination?: string;
    problem?: string | null;
    n_failures?: number;
    retry_in_ms?: number | null;
  };
  /** Each plugin in the order it runs. */
  plugins?: PluginStatus[];
  /** The model being downloaded after the user said yes to the first-run dialog; null when none is. */
  download?: DownloadStatus | null;
}

export interface DownloadStatus {
  /** The catalogue's name (`smollm2-135m`). */
  model?: string;
  received?: number;
  total?: number | null;
}

/** The download's `$/progress` token (`nib/download/<catalogue name>`): `window/workDoneProgress/cancel` with it stops the download. */
export function downloadToken(download: DownloadStatus): string | undefined {
  return download.model ? `nib/download/${download.model}` : undefined;
}

/** A download's progress in words: "SmolLM2 135M: 44 of 98 MB (45 %)". */
export function downloadText(download: DownloadStatus): string {
  const mb = (bytes: number) => Math.round(bytes / 1e6);
  const received = download.received ?? 0;
  const of = download.total ? ` of ${mb(download.total)} MB (${percent(download)} %)` : " MB";
  return `${download.model ?? "the model"}: ${mb(received)}${of}`;
}

function percent(download: DownloadStatus): number {
  return download.total ? Math.floor((100 * Math.min(download.received ?? 0, download.total)) / download.total) : 0;
}

export interface PluginStatus {
  name?: string;
  builtin?: boolean;
  /** "starting", "running", "restarting" (after a failure), "failed" (misconfigured) or "stopped". */
  state?: string;
  n_calls?: number;
  n_failures?: number;
  last_error?: string | null;
  counts?: Record<string, number>;
}

/** The first plugin that is down, in words; undefined while they all run. */
export function pluginProblem(status: NibStatus | undefined): string | undefined {
  const down = status?.plugins?.find((p) => p.state === "restarting" || p.state === "failed");
  return down ? `plugin ${down.name ?? "?"} ${down.state}: ${down.last_error ?? "?"}` : undefined;
}

/** The status-bar text: the last latency and how many answers came from the cache. */
export function statusBarText(status: NibStatus | undefined, enabled: boolean): string {
  if (!status) {
    return "$(loading~spin) nib";
  }
  // Until the model is in, the download is what the user waits for (the model is missing meanwhile).
  if (status.download) {
    return status.download.total ? `$(cloud-download) nib ${percent(status.download)}%` : "$(cloud-download) nib";
  }
  if (status.model?.state === "failed") {
    return "$(error) nib";
  }
  if (status.model?.state === "loading") {
    return "$(loading~spin) nib: loading";
  }
  const off = enabled ? "" : " (off)";
  // The model is ready but its server failed the last request: completions fail until it answers again
  // (the tooltip and nib: Show Status say what went wrong).
  if (status.backend?.problem) {
    return `$(warning) nib: server problem${off}`;
  }
  // Completions go on without a plugin that is down, unshaped by it: say so.
  if (pluginProblem(status)) {
    return `$(warning) nib: plugin problem${off}`;
  }
  const last = status.engine?.last;
  if (!last || last.total_ms === undefined) {
    return `$(sparkle) nib${off}`;
  }
  const hits = status.engine?.n_cache_answers ?? 0;
  return `$(sparkle) nib ${Math.round(last.total_ms)} ms · ${hits} cached${off}`;
}

/** The status-bar item's tooltip: what the text above hints at, in words; undefined when all is well. */
export function statusBarTooltip(status: NibStatus | undefined): string | undefined {
  if (status?.download) {
    const cancel = downloadToken(status.download) === undefined ? "" : " (click to cancel)";
    return `nib is downloading ${downloadText(status.download)}${cancel}`;
  }
  return status?.backend?.problem ?? pluginProblem(status);
}

/** The whole status, one fact per line. */
export function statusLines(status: NibStatus): string[] {
  const engine = status.engine ?? {};
  const lines = [`nib ${status.version ?? "?"}: model ${status.model?.path ?? "?"} (${status.model?.state ?? "?"})`];
  if (status.model?.error) {
    lines.push(status.model.error);
  }
  if (status.download) {
    lines.push(`downloading ${downloadText(status.download)}`);
  }
  const backend = status.backend;
  if (backend) {
    lines.push(`prompts go to ${backend.destination ?? "?"}`);
    if (backend.problem) {
      const retry = typeof backend.retry_in_ms === "number" ? ` (retrying in ${Math.round(backend.retry_in_ms)} ms)` : "";
      lines.push(`${backend.problem}${retry}`);
    }
  }
  for (const plugin of status.plugins ?? []) {
    const did = Object.entries(plugin.counts ?? {}).map(([kind, n]) => `${n} ${kind}`);
    const failures = plugin.n_failures ? `, ${plugin.n_failures} failed (last: ${plugin.last_error ?? "?"})` : "";
    lines.push(`plugin ${plugin.name ?? "?"}: ${plugin.state ?? "?"}, ${plugin.n_calls ?? 0} calls${failures}${did.length ? `; ${did.join(", ")}` : ""}`);
  }
  lines.push(`${status.n_open_documents ?? 0} documents open, ${status.n_indexed_files ?? 0} files indexed`);
  const reused = engine.n_prompt_tokens ? Math.round((100 * (engine.n_reused_tokens ?? 0)) / engine.n_prompt_tokens) : 0;
  lines.push(`${engine.n_completed ?? 0} completions, ${engine.n_cache_answers ?? 0} from the cache, ${reused} % of prompt tokens reused`);
  const last = engine.last;
  if (last?.cache) {
    lines.push(`last: ${last.cache}, first token ${Math.round(last.ttft_ms ?? 0)} ms, done ${Math.round(last.total_ms ?? 0)} ms`);
  }
  return lines;
}

/** What `WorkspaceConfiguration.inspect` says about one setting: the scopes a user can set it in. */
export interface Inspected<T> {
  globalValue?: T;
  workspaceValue?: T;
  workspaceFolderValue?: T;
}

/** The value the user set, in the narrowest scope that has one; undefined where only the default applies. */
export function userValue<T>(inspected: Inspected<T> | undefined): T | undefined {
  return inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
}

/**
 * The nib settings the user set in VS Code (`read` gives a setting's user value by its name under `nib.`), as nib's
 * initializationOptions. A setting the user did not set is left out, so nib's config file (then nib's own default)
 * decides it; an empty string is "unset" too.
 */
export function initializationOptions(read: (name: string) => unknown): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [name, key] of NIB_SETTINGS) {
    const value = read(name);
    if (value === undefined || value === null || value === "") {
      continue;
    }
    const path = key.split(".");
    const last = path.pop() as string;
    let section = options;
    for (const part of path) {
      section = (section[part] ??= {}) as Record<string, unknown>;
    }
    section[last] = value;
  }
  return options;
}
