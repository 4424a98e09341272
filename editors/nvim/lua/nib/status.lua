-- :NibStatus — the model, where prompts go, latency and cache figures from `nib/status`.
local M = {}

-- Where prompts go and, while a remote server fails, what went wrong: with a remote backend the model's state
-- alone does not say why completions stop.
local function backend_lines(backend)
  local lines = { ("prompts go to %s"):format(backend.destination or "?") }
  if type(backend.problem) == "string" then
    local retry = type(backend.retry_in_ms) == "number" and (" (retrying in %d ms)"):format(backend.retry_in_ms) or ""
    table.insert(lines, "  " .. backend.problem .. retry)
  end
  return lines
end

-- Each plugin: a plugin that is down leaves completions unshaped by it, so its failures are shown.
local function plugin_lines(plugins)
  local lines = {}
  for _, plugin in ipairs(plugins) do
    local line = ("plugin %s: %s, %d calls"):format(plugin.name or "?", plugin.state or "?", plugin.n_calls or 0)
    if (plugin.n_failures or 0) > 0 then
      line = line .. (", %d failed (last: %s)"):format(plugin.n_failures, tostring(plugin.last_error))
    end
    local did = {}
    for kind, n in pairs(type(plugin.counts) == "table" and plugin.counts or {}) do
      table.insert(did, ("%d %s"):format(n, kind))
    end
    table.sort(did)
    if #did > 0 then
      line = line .. "; " .. table.concat(did, ", ")
    end
    table.insert(lines, line)
  end
  return lines
end

function M.format(status)
  local model, engine = status.model or {}, status.engine or {}
  local last = engine.last or {}
  local lines = {
    ("nib %s — model %s (%s)"):format(status.version or "?", model.path or "?", model.state or "?"),
  }
  if model.error then
    table.insert(lines, "  " .. model.error)
  end
  -- A server older than the `backend` field says nothing about it.
  if type(status.backend) == "table" then
    vim.list_extend(lines, backend_lines(status.backend))
  end
  if type(status.plugins) == "table" then
    vim.list_extend(lines, plugin_lines(status.plugins))
  end
  table.insert(lines, ("documents %d open, %d files indexed"):format(status.n_open_documents or 0,
    status.n_indexed_files or 0))
  table.insert(lines, ("completions %d; cache answers %d; reused %d of %d prompt tokens"):format(
    engine.n_completed or 0, engine.n_cache_answers or 0, engine.n_reused_tokens or 0, engine.n_prompt_tokens or 0))
  if last.cache then
    table.insert(lines, ("last: %s, first token %.0f ms, done %.0f ms"):format(last.cache, last.ttft_ms or 0,
      last.total_ms or 0))
  end
  return lines
end

function M.show(client)
  if not client then
    vim.notify("nib: not running for this buffer", vim.log.levels.WARN)
    return
  end
  client:request("nib/status", nil, function(err, status)
    if err then
      vim.notify("nib: " .. err.message, vim.log.levels.ERROR)
    else
      vim.notify(table.concat(M.format(status), "\n"), vim.log.levels.INFO)
    end
  end)
end

return M
