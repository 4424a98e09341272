-- :checkhealth nib — finds the binary and the model (or, with a remote backend, says which server has it).
local M = {}

function M.check()
  local nib = require("nib")
  vim.health.start("nib")
  local binary = nib.config.cmd[1]
  if vim.fn.executable(binary) == 1 then
    local version = vim.fn.system({ binary, "--version" })
    vim.health.ok(("%s: %s"):format(vim.fn.exepath(binary), vim.trim(version)))
  else
    vim.health.error(("%s is not executable"):format(binary), {
      "Build it: cargo build --release (the binary is target/release/nib), or set cmd in setup()",
    })
    return
  end
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
  local home = vim.env.NIB_HOME or ((vim.env.XDG_CACHE_HOME or (vim.env.HOME .. "/.cache")) .. "/nib")
  local model = nib.config.model or vim.env.NIB_MODEL or (home .. "/models/SmolLM2-135M-Instruct.Q4_1.gguf")
  if vim.uv.fs_stat(model) then
    vim.health.ok("model: " .. model)
  else
    vim.health.error("no model at " .. model, { "Fetch the default one: nib models pull" })
  end
end

return M
