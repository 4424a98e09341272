-- Warm ahead: when the cursor rests in a nib buffer, nib/cursorRest tells nib, which evaluates the
-- prompt there at idle priority so the next completion is fast. When nib answered an automatic
-- request empty because a cold file was still being evaluated, nib/suggestionReady says the
-- suggestion is now cached: ask again if the cursor is still there.
local ghost = require("nib.ghost")
local next_edit = require("nib.next_edit")

local M = {}

local nib -- the plugin, for its config and client
local timer = vim.uv.new_timer()
local last -- the last spot sent: resting there again tells nib nothing new

--- Where the cursor is in the current buffer: { textDocument = { uri, version }, position }.
local function spot(buf, client)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.textDocument.version = vim.lsp.util.buf_versions[buf]
  return params
end

local function same(a, b)
  return a ~= nil and b ~= nil and a.textDocument.uri == b.textDocument.uri
    and a.textDocument.version == b.textDocument.version and a.position.line == b.position.line
    and a.position.character == b.position.character
end

local function rested()
  local buf = vim.api.nvim_get_current_buf()
  local client = nib.client(buf)
  -- Before `initialized` nib would drop the notification (and `last` would then hide the spot).
  if not client or not client.initialized then
    return
  end
  local params = spot(buf, client)
  if not same(params, last) then
    last = params
    client:notify("nib/cursorRest", params) -- flushes pending didChange first, so the version is known
    if nib.config.next_edits then
      next_edit.request()
    end
  end
end

--- The cursor moved, the text changed or a buffer was entered: wait for rest again.
function M.restart()
  timer:stop()
  local ms = nib.config.rest_ms
  if ms and ms > 0 then
    timer:start(ms, 0, vim.schedule_wrap(rested))
  end
end

--- The nib/suggestionReady handler. A suggestion shown may be the start of one still written: the whole
--- one replaces it.
function M.on_ready(_, params, ctx)
  local buf = vim.api.nvim_get_current_buf()
  local client = nib.client(buf)
  if not client or client.id ~= ctx.client_id or vim.fn.mode() ~= "i" then
    return
  end
  if same(spot(buf, client), params) then
    ghost.request(false) -- an automatic request: the cached suggestion comes back at once
  end
end

function M.setup(group, plugin)
  nib = plugin
  vim.api.nvim_create_autocmd({ "BufEnter", "CursorMoved", "CursorMovedI", "InsertLeave", "TextChanged",
    "TextChangedI", "TextChangedP" }, { group = group, callback = M.restart })
  -- A buffer just opened: nib knows it (didOpen) only from here on.
  vim.api.nvim_create_autocmd("LspAttach", {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == "nib" and args.buf == vim.api.nvim_get_current_buf() then
        M.restart()
      end
    end,
  })
end

return M
