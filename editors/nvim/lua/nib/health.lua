-- :checkhealth nib — finds the binary and the model.
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
  local home = vim.env.NIB_HOME or ((vim.env.XDG_CACHE_HOME or (vim.env.HOME .. "/.cache")) .. "/nib")
  local model = nib.config.model or vim.env.NIB_MODEL or (home .. "/models/SmolLM2-135M-Instruct.Q4_1.gguf")
  if vim.uv.fs_stat(model) then
    vim.health.ok("model: " .. model)
  else
    vim.health.error("no model at " .. model, { "Fetch the default one: python3 models/fetch.py" })
  end
end

return M
