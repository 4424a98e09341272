-- Next edits: once the cursor rests after an edit (or on :NibNextEdit), asks nib where the same
-- change is due next (nib/nextEdits) and shows the first proposal in this buffer: the text it
-- replaces highlighted, the new text after it, and a marker at the end of its line. The
-- `next_edit` key (<M-n>) jumps to it, and pressing it again there applies it and runs its command,
-- which tells nib it was accepted. A change to the buffer or the cursor leaving both the line it
-- was asked from and the target's line clears it.
local M = {}

local ns = vim.api.nvim_create_namespace("nib.next_edit")
local nib -- the plugin, for its config and client
-- The request in flight ({client, id}) and what is shown
-- ({buf, client_id, edit, row, col, end_row, end_col, origin_row, changedtick, jumped}).
local pending = nil
local shown = nil

local function cancel_pending()
  if pending then
    pcall(function() pending.client:cancel_request(pending.id) end)
    pending = nil
  end
end

function M.clear()
  cancel_pending()
  if shown and vim.api.nvim_buf_is_valid(shown.buf) then
    vim.api.nvim_buf_clear_namespace(shown.buf, ns, 0, -1)
  end
  shown = nil
end

function M.visible()
  return shown ~= nil
end

--- The proposal shown (nib/nextEdits' edit as nib sent it), if any.
function M.edit()
  return shown and shown.edit or nil
end

--- The marker's words: what kind of change and its new text ("rename to total").
function M.label(edit)
  local new = vim.split(edit.newText, "\n", { plain = true })[1]
  if edit.newText == "" then
    return (edit.kind or "edit") .. ": delete"
  end
  return (edit.kind or "edit") .. " to " .. new .. (edit.newText:find("\n") and " …" or "")
end

-- LSP columns count in the negotiated encoding; extmarks count bytes.
local function byte_col(buf, row, col, encoding)
  local line = vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1]
  if not line then
    return nil
  end
  if encoding == "utf-8" then
    return math.min(col, #line)
  end
  -- Neovim 0.11 takes the encoding by name; 0.10 only knows UTF-16 or UTF-32 by a flag.
  local ok, byte = pcall(vim.str_byteindex, line, encoding, col, false)
  if not ok then
    ok, byte = pcall(vim.str_byteindex, line, col, encoding == "utf-16")
  end
  return ok and byte or #line
end

local function render()
  local s = shown
  vim.api.nvim_buf_clear_namespace(s.buf, ns, 0, -1)
  local new = vim.split(s.edit.newText, "\n", { plain = true })
  if s.end_row > s.row or s.end_col > s.col then
    vim.api.nvim_buf_set_extmark(s.buf, ns, s.row, s.col,
      { end_row = s.end_row, end_col = s.end_col, hl_group = "NibNextEditDelete" })
  end
  local virt_lines = {}
  for i = 2, #new do
    table.insert(virt_lines, { { new[i], "NibNextEditInsert" } })
  end
  if new[1] ~= "" or #virt_lines > 0 then
    vim.api.nvim_buf_set_extmark(s.buf, ns, s.end_row, s.end_col, {
      virt_text = { { new[1], "NibNextEditInsert" } },
      virt_text_pos = "inline",
      virt_lines = #virt_lines > 0 and virt_lines or nil,
    })
  end
  local key = nib.config.keymaps.next_edit
  local hint = key and ("  " .. key .. (s.jumped and " applies" or " jumps")) or ""
  vim.api.nvim_buf_set_extmark(s.buf, ns, s.row, 0, {
    virt_text = { { "→ " .. M.label(s.edit) .. hint, "NibNextEdit" } },
    virt_text_pos = "eol",
    sign_text = "→",
    sign_hl_group = "NibNextEdit",
  })
end

local function show(buf, client, edit, origin_row)
  local range = edit.range
  local row, end_row = range.start.line, range["end"].line
  local col = byte_col(buf, row, range.start.character, client.offset_encoding)
  local end_col = byte_col(buf, end_row, range["end"].character, client.offset_encoding)
  if not col or not end_col then
    return
  end
  shown = { buf = buf, client_id = client.id, edit = edit, row = row, col = col, end_row = end_row,
    end_col = end_col, origin_row = origin_row, changedtick = vim.b[buf].changedtick, jumped = false }
  render()
end

--- Asks nib for the next edits at the cursor and shows the first one in this buffer.
function M.request()
  local buf = vim.api.nvim_get_current_buf()
  local client = nib.client(buf)
  if not client or not client.initialized then
    return
  end
  -- A proposal for this very text is already shown: resting again changes nothing.
  if shown and shown.buf == buf and shown.changedtick == vim.b[buf].changedtick then
    return
  end
  M.clear()
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  local changedtick = vim.b[buf].changedtick
  local origin_row = params.position.line
  local uri = params.textDocument.uri
  local ok, id
  ok, id = client:request("nib/nextEdits", params, function(err, result)
    if pending and pending.id == id then
      pending = nil
    end
    if err or not result or not vim.api.nvim_buf_is_valid(buf) or vim.b[buf].changedtick ~= changedtick
      or vim.api.nvim_get_current_buf() ~= buf then
      return
    end
    for _, edit in ipairs(result.edits or {}) do
      if edit.uri == uri then
        show(buf, client, edit, origin_row)
        return
      end
    end
  end, buf)
  if ok then
    pending = { client = client, id = id }
  end
end

--- Applies the proposal shown and runs its command (nib counts the acceptance).
function M.accept()
  local s = shown
  if not s then
    return
  end
  M.clear()
  local client = vim.lsp.get_client_by_id(s.client_id)
  if not client then
    return
  end
  vim.lsp.util.apply_text_edits({ { range = s.edit.range, newText = s.edit.newText } }, s.buf, client.offset_encoding)
  if s.edit.command then
    client:exec_cmd(s.edit.command, { bufnr = s.buf })
  end
end

--- The `next_edit` key: the first press moves the cursor to the proposal, the next applies it.
function M.jump_or_accept()
  local s = shown
  if not s then
    return
  end
  local cursor = vim.api.nvim_win_get_cursor(0)
  local at = cursor[1] - 1 == s.row and cursor[2] >= s.col and (s.end_row > s.row or cursor[2] <= s.end_col)
  if s.jumped or at then
    M.accept()
    return
  end
  s.jumped = true
  vim.api.nvim_win_set_cursor(0, { s.row + 1, s.col })
  render()
end

function M.setup(group, plugin)
  nib = plugin
  vim.api.nvim_set_hl(0, "NibNextEdit", { default = true, link = "Special" })
  vim.api.nvim_set_hl(0, "NibNextEditDelete", { default = true, link = "DiffDelete" })
  vim.api.nvim_set_hl(0, "NibNextEditInsert", { default = true, link = "DiffAdd" })
  vim.api.nvim_create_autocmd({ "TextChanged", "TextChangedI", "TextChangedP", "BufLeave" }, {
    group = group,
    callback = function(args)
      if shown and (args.event == "BufLeave" or vim.b[shown.buf].changedtick ~= shown.changedtick) then
        M.clear()
      end
    end,
  })
  vim.api.nvim_create_autocmd({ "CursorMoved", "CursorMovedI" }, {
    group = group,
    callback = function()
      local row = vim.api.nvim_win_get_cursor(0)[1] - 1
      if shown and row ~= shown.row and row ~= shown.origin_row then
        M.clear()
      end
    end,
  })
end

return M
