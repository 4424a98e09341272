-- nib for Neovim: starts `nib serve`, shows inline completions as ghost text,
-- proposes the next edit after a change (nib/nextEdits), and shows review findings through
-- vim.diagnostic (the LSP client does that).
local ghost = require("nib.ghost")
local next_edit = require("nib.next_edit")
local rest = require("nib.rest")

local M = {}

local defaults = {
  -- The command that starts the server; `model` is passed as --model when set. Unset: the binary :NibInstall (or
  -- lazy.nvim's build step) installed, else `nib` from PATH.
  cmd = nil,
  model = nil,
  filetypes = { "python", "rust", "javascript", "javascriptreact", "typescript", "typescriptreact", "go", "c", "cpp",
    "java", "lua" },
  -- Wait this long after a keystroke before asking: typing fast asks once.
  debounce_ms = 60,
  -- After the cursor has rested this long, nib warms the prompt there (nib/cursorRest); 0 turns it off.
  rest_ms = 250,
  -- When the cursor rests after a change, ask nib where the same change is due next (nib/nextEdits);
  -- :NibNextEdit asks in any case.
  next_edits = true,
  -- nib's settings, sent as initializationOptions (see the README's Configuration); those left out come from
  -- nib's config file.
  settings = {},
  keymaps = {
    accept = "<Tab>",
    accept_word = "<M-w>",
    accept_line = "<M-l>",
    dismiss = "<C-]>",
    next = "<M-]>",
    prev = "<M-[>",
    -- Ask explicitly (Insert or Normal mode): nib waits for the whole suggestion, even on a cold file.
    complete = "<M-\\>",
    -- While a next edit is shown (Insert or Normal mode): the first press jumps to it, the next applies it.
    next_edit = "<M-n>",
    -- Normal mode, only while a next edit is shown (the key does what it did otherwise).
    next_edit_dismiss = "<Esc>",
  },
}

M.config = vim.deepcopy(defaults)

local function root_dir(buf)
  local found = vim.fs.find({ ".git" }, { upward = true, path = vim.fs.dirname(vim.api.nvim_buf_get_name(buf)) })[1]
  return found and vim.fs.dirname(found) or vim.fn.getcwd()
end

--- The command that starts the server, without the model.
function M.cmd()
  return M.config.cmd and vim.deepcopy(M.config.cmd) or { require("nib.install").command(), "serve" }
end

local function command()
  local cmd = M.cmd()
  if M.config.model then
    vim.list_extend(cmd, { "--model", M.config.model })
  end
  return cmd
end

--- Starts (or reuses) the client for a buffer.
function M.attach(buf)
  buf = buf or vim.api.nvim_get_current_buf()
  return vim.lsp.start({
    name = "nib",
    cmd = command(),
    root_dir = root_dir(buf),
    -- vim.json.encode sends an empty table as `[]`; nib's settings are a JSON object.
    init_options = vim.tbl_isempty(M.config.settings) and vim.empty_dict() or M.config.settings,
    handlers = { ["nib/suggestionReady"] = rest.on_ready },
  }, { bufnr = buf })
end

function M.client(buf)
  return vim.lsp.get_clients({ name = "nib", bufnr = buf or vim.api.nvim_get_current_buf() })[1]
end

local function map_keys()
  local keys = M.config.keymaps
  local function imap(lhs, action, fallback)
    if not lhs then
      return
    end
    vim.keymap.set("i", lhs, function()
      if ghost.visible() then
        -- Text cannot change inside an expression mapping: act right after it.
        vim.schedule(action)
        return ""
      end
      return fallback and vim.api.nvim_replace_termcodes(lhs, true, false, true) or ""
    end, { expr = true, silent = true, desc = "nib" })
  end
  imap(keys.accept, ghost.accept, true)
  imap(keys.accept_word, ghost.accept_word, false)
  imap(keys.accept_line, ghost.accept_line, false)
  imap(keys.dismiss, ghost.clear, true)
  imap(keys.next, function() ghost.cycle(1) end, false)
  imap(keys.prev, function() ghost.cycle(-1) end, false)
  local function when_next_edit(modes, lhs, action, fallback)
    if not lhs then
      return
    end
    vim.keymap.set(modes, lhs, function()
      if next_edit.visible() then
        vim.schedule(action)
        return ""
      end
      return fallback and vim.api.nvim_replace_termcodes(lhs, true, false, true) or ""
    end, { expr = true, silent = true, desc = "nib: next edit" })
  end
  when_next_edit({ "i", "n" }, keys.next_edit, next_edit.jump_or_accept, false)
  when_next_edit("n", keys.next_edit_dismiss, next_edit.clear, true)
  if keys.complete then
    vim.keymap.set({ "i", "n" }, keys.complete, ghost.complete, { silent = true, desc = "nib: complete here" })
  end
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  local group = vim.api.nvim_create_augroup("nib", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = M.config.filetypes,
    callback = function(args)
      M.attach(args.buf)
    end,
  })
  ghost.setup(group, M)
  rest.setup(group, M)
  next_edit.setup(group, M)
  map_keys()
  vim.api.nvim_create_user_command("NibStatus", function()
    require("nib.status").show(M.client())
  end, { desc = "nib: model, latency and cache figures" })
  vim.api.nvim_create_user_command("NibComplete", ghost.complete,
    { desc = "nib: ask for a completion here and wait for it" })
  vim.api.nvim_create_user_command("NibNextEdit", function()
    next_edit.clear()
    next_edit.request()
  end, { desc = "nib: propose the next edit from the last change" })
  vim.api.nvim_create_user_command("NibInstall", function(args)
    require("nib.install").install({ source = args.args == "source" })
  end, {
    nargs = "?",
    complete = function() return { "source" } end,
    desc = "nib: install the release binary for this platform (checked against SHA256SUMS), or build it: source",
  })
  vim.api.nvim_create_user_command("NibSetupModel", function()
    local client = M.client()
    if client then
      client:exec_cmd({ title = "nib model", command = "nib.setupModel" })
    end
  end, { desc = "nib: offer a model to download when there is none" })
  vim.api.nvim_create_user_command("NibReview", function()
    local client = M.client()
    if client then
      client:exec_cmd({ title = "nib review", command = "nib.review", arguments = { vim.uri_from_bufnr(0) } })
    end
  end, { desc = "nib: review the current file now" })
  -- Buffers already open when setup runs.
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.tbl_contains(M.config.filetypes, vim.bo[buf].filetype) then
      M.attach(buf)
    end
  end
end

return M
