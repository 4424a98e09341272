-- Ghost text: asks nib for an inline completion after typing pauses, shows it
-- with extmarks at the cursor, and inserts all of it, a word or a line on demand.
local M = {}

local ns = vim.api.nvim_create_namespace("nib.ghost")
local nib -- the plugin, for its config and client
local timer = vim.uv.new_timer()
-- The request in flight ({client, id}) and what is shown ({buf, row, col, items, index}).
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

--- Which candidate is shown and how many there are ({ index, count }), if any.
function M.position()
  return shown and { shown.index, #shown.items } or nil
end

--- The suggestion being shown, if any.
function M.text()
  return shown and shown.items[shown.index].insertText or nil
end

local function render()
  vim.api.nvim_buf_clear_namespace(shown.buf, ns, 0, -1)
  local lines = vim.split(M.text(), "\n", { plain = true })
  local virt_lines = {}
  for i = 2, #lines do
    table.insert(virt_lines, { { lines[i], "NibGhostText" } })
  end
  vim.api.nvim_buf_set_extmark(shown.buf, ns, shown.row, shown.col, {
    virt_text = { { lines[1], "NibGhostText" } },
    virt_text_pos = "inline",
    virt_lines = #virt_lines > 0 and virt_lines or nil,
    hl_mode = "combine",
  })
  if #shown.items > 1 then
    -- Several candidates (an explicit request): which one this is, so the cycle keys are worth trying.
    vim.api.nvim_buf_set_extmark(shown.buf, ns, shown.row, shown.col, {
      virt_text = { { string.format(" %d/%d", shown.index, #shown.items), "NibGhostText" } },
      virt_text_pos = "eol",
    })
  end
end

local function show(buf, row, col, items)
  M.clear()
  local usable = vim.tbl_filter(function(item)
    return type(item.insertText) == "string" and item.insertText ~= ""
  end, items or {})
  if #usable == 0 then
    return
  end
  shown = { buf = buf, row = row, col = col, items = usable, index = 1 }
  render()
end

--- Asks for a completion at the cursor now. `explicit` (the user asked) sends triggerKind 1
--- (Invoked): nib then waits for the whole suggestion, where an automatic request (2) may be
--- answered empty at its deadline while a cold file's prompt is still being evaluated.
function M.request(explicit)
  local buf = vim.api.nvim_get_current_buf()
  local client = nib.client(buf)
  if not client or vim.fn.mode() ~= "i" then
    return
  end
  -- This request supersedes one still waiting for typing to pause (which would cancel an explicit one).
  timer:stop()
  cancel_pending()
  local cursor = vim.api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = explicit and 1 or 2 }
  if explicit then
    -- An explicit request may take seconds on a cold file: say that something is happening.
    vim.api.nvim_echo({ { "nib: thinking…", "Comment" } }, false, {})
  end
  local changedtick = vim.b[buf].changedtick
  -- Declared first: the callback must see this request's id (a `local` is not in scope in its own initializer).
  local ok, id
  ok, id = client:request("textDocument/inlineCompletion", params, function(err, result)
    if pending and pending.id == id then
      pending = nil
    end
    if explicit then
      vim.api.nvim_echo({ { "" } }, false, {})
    end
    -- Stale: the buffer changed or the cursor moved since the request.
    local now = vim.api.nvim_win_get_cursor(0)
    if err or not result or vim.b[buf].changedtick ~= changedtick or now[1] - 1 ~= row or now[2] ~= col then
      return
    end
    show(buf, row, col, result.items or result)
  end, buf)
  if ok then
    pending = { client = client, id = id }
  end
end

--- :NibComplete and the `complete` key: an explicit request. From Normal mode it first starts
--- Insert mode after the cursor, as `a` does (ghost text lives in Insert mode).
function M.complete()
  if vim.fn.mode() == "i" then
    return M.request(true)
  end
  vim.api.nvim_create_autocmd("ModeChanged", {
    pattern = "*:i",
    once = true,
    callback = vim.schedule_wrap(function()
      M.request(true)
    end),
  })
  vim.api.nvim_feedkeys("a", "n", false)
end

local function insert(text)
  local s = shown
  M.clear()
  local lines = vim.split(text, "\n", { plain = true })
  vim.api.nvim_buf_set_text(s.buf, s.row, s.col, s.row, s.col, lines)
  local last_row = s.row + #lines - 1
  local last_col = (#lines == 1 and s.col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { last_row + 1, last_col })
end

function M.accept()
  if not shown then
    return
  end
  local buf, item = shown.buf, shown.items[shown.index]
  insert(item.insertText)
  -- nib.acceptedSuggestion: nib counts the acceptance even where the edits it sees could not tell.
  local client = nib.client(buf)
  if item.command and client then
    client:exec_cmd(item.command, { bufnr = buf })
  end
end

--- Inserts the next word of the suggestion (with the blanks or symbols before it).
function M.accept_word()
  if not shown then
    return
  end
  local text = M.text()
  local word = text:match("^[^%w_]*[%w_]+") or text:match("^[^%w_]+") or text
  local rest = text:sub(#word + 1)
  local s = { buf = shown.buf, row = shown.row, col = shown.col }
  insert(word)
  if rest ~= "" and not word:find("\n") then
    local cursor = vim.api.nvim_win_get_cursor(0)
    shown = { buf = s.buf, row = cursor[1] - 1, col = cursor[2], items = { { insertText = rest } }, index = 1 }
    render()
  end
end

--- Inserts the suggestion up to the end of its first line.
function M.accept_line()
  if not shown then
    return
  end
  local text = M.text()
  local line = text:match("^[^\n]*\n?")
  insert((line:gsub("\n$", "")))
end

function M.cycle(step)
  if shown and #shown.items > 1 then
    shown.index = (shown.index - 1 + step) % #shown.items + 1
    render()
  end
end

function M.setup(group, plugin)
  -- Its own group, so a colour scheme or the user can tell ghost text from comments.
  vim.api.nvim_set_hl(0, "NibGhostText", { default = true, link = "Comment" })
  nib = plugin
  vim.api.nvim_create_autocmd({ "TextChangedI", "TextChangedP" }, {
    group = group,
    callback = function()
      M.clear()
      timer:stop()
      timer:start(nib.config.debounce_ms, 0, vim.schedule_wrap(function() M.request(false) end))
    end,
  })
  vim.api.nvim_create_autocmd("CursorMovedI", {
    group = group,
    callback = function()
      local cursor = vim.api.nvim_win_get_cursor(0)
      if shown and (cursor[1] - 1 ~= shown.row or cursor[2] ~= shown.col) then
        M.clear()
      end
    end,
  })
  vim.api.nvim_create_autocmd({ "InsertLeave", "BufLeave", "ModeChanged" }, {
    group = group,
    callback = function()
      if vim.fn.mode() ~= "i" then
        timer:stop()
        M.clear()
      end
    end,
  })
end

return M
