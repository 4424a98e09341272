-- :checkhealth nib — the binary and its version (`nib --version`), and the model: from the running server
-- (`nib/status`) when one is attached, else from `nib doctor --json` (which loads it and measures, a few seconds).
-- With a remote backend, says which server has the model.
local M = {}

-- The model as the running server has it, or nil without one.
local function model_from_server()
  local client = vim.lsp.get_clients({ name = "nib" })[1]
  if not client then
    return nil
  end
  local response = client:request_sync("nib/status", nil, 5000)
  local status = response and response.result
  if not status then
    return nil
  end
  local model = status.model
  local download = status.download
  if type(download) == "table" then
    return "warn", ("model: downloading %s (%d of %d bytes)"):format(download.model, download.received, download.total)
  end
  if model.state == "failed" then
    return "error", ("model: %s"):format(model.error or model.path)
  end
  local name = type(model.info) == "table" and model.info.name or nil
  return "ok", ("model: %s%s (%s, from %s)"):format(model.path, name and (", " .. name) or "", model.state, model.source)
end

-- The model as `nib doctor --json` finds it.
local function model_from_doctor(nib, binary)
  local cmd = { binary, "doctor", "--json" }
  if nib.config.model then
    vim.list_extend(cmd, { "--model", nib.config.model })
  end
  local result = vim.system(cmd, { text = true }):wait()
  local ok, report = pcall(vim.json.decode, result.stdout or "")
  if not ok or type(report) ~= "table" or type(report.model) ~= "table" then
    return "error", ("nib doctor --json failed: %s"):format(vim.trim(result.stderr or ""))
  end
  local model = report.model
  if not model.loaded then
    local fix = "Fetch the default one: nib models pull (or start nib in an editor: it offers the download)"
    return "error", ("model: %s (from %s) does not load"):format(model.path, model.source), fix
  end
  return "ok", ("model: %s, %s (from %s)"):format(model.path, model.info.name, model.source)
end

function M.check()
  local nib = require("nib")
  vim.health.start("nib")
  local binary = nib.cmd()[1]
  if vim.fn.executable(binary) ~= 1 then
    vim.health.error(("%s is not executable"):format(binary), {
      "Install it: :NibInstall (the release binary; :NibInstall source builds it with cargo), or set cmd in setup()",
    })
    return
  end
  local version = vim.system({ binary, "--version" }, { text = true }):wait()
  vim.health.ok(("%s: %s"):format(vim.fn.exepath(binary), (vim.trim(version.stdout or ""):gsub("\n", "; "))))
  -- A remote backend needs no model file here; what it needs is the server (and the token's variable, when named).
  local engine = (nib.config.settings or {}).engine or {}
  if engine.backend and engine.backend ~= "local" then
    vim.health.ok(("model: on %s (%s)"):format(engine.url or "nib's default URL", engine.backend))
    if engine.api_key_env and engine.api_key_env ~= "" and not vim.env[engine.api_key_env] then
      vim.health.error(("engine.api_key_env names $%s, which is not set"):format(engine.api_key_env),
        { "nib reads the token from the environment Neovim starts it with: export it before starting Neovim" })
    end
    return
  end
  local level, message, fix = model_from_server()
  if not level then
    level, message, fix = model_from_doctor(nib, binary)
  end
  vim.health[level](message, fix and { fix } or nil)
end

return M
