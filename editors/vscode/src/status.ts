// What nib/status says, in words: pure, so it is unit-tested without VS Code.

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
}

/** The status-bar text: the last latency and how many answers came from the cache. */
export function statusBarText(status: NibStatus | undefined, enabled: boolean): string {
  if (!status) {
    return "$(loading~spin) nib";
  }
  if (status.model?.state === "failed") {
    return "$(error) nib";
  }
  if (status.model?.state === "loading") {
    return "$(loading~spin) nib: loading";
  }
  const off = enabled ? "" : " (off)";
  const last = status.engine?.last;
  if (!last || last.total_ms === undefined) {
    return `$(sparkle) nib${off}`;
  }
  const hits = status.engine?.n_cache_answers ?? 0;
  return `$(sparkle) nib ${Math.round(last.total_ms)} ms · ${hits} cached${off}`;
}

/** The whole status, one fact per line. */
export function statusLines(status: NibStatus): string[] {
  const engine = status.engine ?? {};
  const lines = [`nib ${status.version ?? "?"}: model ${status.model?.path ?? "?"} (${status.model?.state ?? "?"})`];
  if (status.model?.error) {
    lines.push(status.model.error);
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

/** VS Code settings to nib's initializationOptions (the keys of nib's config file). */
export function initializationOptions(settings: {
  model?: string;
  context?: string;
  deadlineMs?: number;
  reviewOnSave?: boolean;
  minSeverity?: string;
}): Record<string, unknown> {
  const options: Record<string, unknown> = {
    completion: { context: settings.context ?? "window", deadline_ms: settings.deadlineMs ?? 4000 },
    review: { on_save: settings.reviewOnSave ?? true, min_severity: settings.minSeverity ?? "info" },
  };
  if (settings.model) {
    options.model = settings.model;
  }
  return options;
}
