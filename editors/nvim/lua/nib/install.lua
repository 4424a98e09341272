-- Installs the nib binary this plugin belongs to: the release archive for this platform, checked against the
-- release's SHA256SUMS before anything takes its final name (as `nib models pull` does with models), or a build
-- from source with cargo. Self-contained (no other nib module), so lazy.nvim's `build` can load it by path.
local M = {}

-- Where releases are published; $NIB_RELEASES_URL stands in for it (tests serve releases from loopback).
M.releases_url = "https://github.com/nib-dev/nib/releases/download"

local uv = vim.uv or vim.loop
local windows = uv.os_uname().sysname:match("Windows") ~= nil

-- The repository this file is in: editors/nvim/lua/nib/install.lua is four folders down.
local function repo_root()
  local source = debug.getinfo(1, "S").source:gsub("^@", "")
  return vim.fs.normalize(vim.fn.fnamemodify(source, ":p:h:h:h:h:h"))
end

-- The version the plugin belongs to: the workspace's, in Cargo.toml.
function M.version()
  local file = io.open(repo_root() .. "/Cargo.toml", "r")
  if not file then
    return nil
  end
  local text = file:read("*a")
  file:close()
  return text:match('%[workspace%.package%][^%[]-\nversion%s*=%s*"([^"]+)"')
end

-- The release's target triple for this machine, or nil.
function M.target()
  local uname = uv.os_uname()
  local arch = ({ x86_64 = "x86_64", amd64 = "x86_64", AMD64 = "x86_64", aarch64 = "aarch64", arm64 = "aarch64" })[uname.machine]
  if uname.sysname == "Linux" and arch then
    return arch .. "-unknown-linux-gnu"
  elseif uname.sysname == "Darwin" and arch == "aarch64" then
    return "aarch64-apple-darwin"
  elseif windows and arch == "x86_64" then
    return "x86_64-pc-windows-msvc"
  end
  return nil
end

-- Where the installed binary goes: Neovim's data folder, outside the plugin (an update keeps it until replaced).
function M.dir()
  return vim.fn.stdpath("data") .. "/nib/bin"
end

function M.binary()
  return M.dir() .. (windows and "/nib.exe" or "/nib")
end

-- The installed binary when there is one, else `nib` from PATH.
function M.command()
  return uv.fs_stat(M.binary()) and M.binary() or "nib"
end

local function run(cmd, opts)
  local result = vim.system(cmd, vim.tbl_extend("force", { text = true }, opts or {})):wait()
  if result.code ~= 0 then
    return nil, ("%s failed (%d): %s"):format(cmd[1], result.code, vim.trim((result.stderr or "") .. (result.stdout or "")))
  end
  return result.stdout
end

-- The hex sha256 of a file, with the platform's own tool.
local function sha256_of(path)
  local tools = { { "sha256sum", path }, { "shasum", "-a", "256", path }, { "certutil", "-hashfile", path, "SHA256" } }
  for _, cmd in ipairs(tools) do
    if vim.fn.executable(cmd[1]) == 1 then
      local out, err = run(cmd)
      if not out then
        return nil, err
      end
      -- sha256sum and shasum print the hash first, certutil after a header line.
      for word in out:gmatch("%x+") do
        if #word == 64 then
          return word:lower()
        end
      end
      return nil, ("no sha256 in %s's output"):format(cmd[1])
    end
  end
  return nil, "no sha256sum, shasum or certutil to check the download with"
end

-- The sha256 SHA256SUMS gives `name` (lines `<hex>  <name>`, `*<name>` in binary mode).
function M.expected_sha256(sums, name)
  for line in sums:gmatch("[^\r\n]+") do
    local hash, file = line:match("^(%x+)%s+%*?(.-)%s*$")
    if file == name and #hash == 64 then
      return hash:lower()
    end
  end
  return nil
end

local function download(url, dest)
  return run({ "curl", "--fail", "--silent", "--show-error", "--location", "--output", dest, url })
end

-- Moves the extracted binary into place: written beside it first, then renamed.
local function place(from)
  vim.fn.mkdir(M.dir(), "p")
  local partial = M.binary() .. ".partial"
  local ok, err = uv.fs_copyfile(from, partial)
  if not ok then
    return nil, err
  end
  if not windows then
    uv.fs_chmod(partial, tonumber("755", 8))
  end
  ok, err = uv.fs_rename(partial, M.binary())
  if not ok then
    os.remove(partial)
    return nil, err
  end
  return M.binary()
end

-- Downloads the release archive for this platform, checks it against SHA256SUMS, unpacks the binary.
-- Returns the binary's path, or nil and why not.
function M.fetch_release()
  local version, target = M.version(), M.target()
  if not version then
    return nil, "cannot tell the plugin's version (no Cargo.toml beside it)"
  end
  if not target then
    local uname = uv.os_uname()
    return nil, ("no release binary for %s %s: build from source (:NibInstall source)"):format(uname.sysname, uname.machine)
  end
  local base = (vim.env.NIB_RELEASES_URL or M.releases_url):gsub("/$", "") .. "/v" .. version
  local name = ("nib-%s-%s.%s"):format(version, target, windows and "zip" or "tar.gz")
  local work = vim.fn.stdpath("cache") .. "/nib-install"
  vim.fn.mkdir(work, "p")
  local sums, err = run({ "curl", "--fail", "--silent", "--show-error", "--location", base .. "/SHA256SUMS" })
  if not sums then
    return nil, err
  end
  local expected = M.expected_sha256(sums, name)
  if not expected then
    return nil, ("SHA256SUMS of v%s names no %s"):format(version, name)
  end
  local archive = work .. "/" .. name
  local partial = archive .. ".partial"
  os.remove(archive)
  local ok
  ok, err = download(base .. "/" .. name, partial)
  if not ok then
    os.remove(partial)
    return nil, err
  end
  local got
  got, err = sha256_of(partial)
  if got ~= expected then
    os.remove(partial)
    return nil, err or ("%s: expected sha256 %s, got %s; the download was deleted"):format(name, expected, got)
  end
  uv.fs_rename(partial, archive)
  local unpacked = work .. "/unpacked"
  vim.fn.delete(unpacked, "rf")
  vim.fn.mkdir(unpacked, "p")
  -- tar unpacks both on Windows 10 and later (bsdtar reads zip).
  ok, err = run({ "tar", "-xf", archive, "-C", unpacked })
  os.remove(archive)
  if not ok then
    return nil, err
  end
  local found = vim.fs.find(windows and "nib.exe" or "nib", { path = unpacked, type = "file", limit = 1 })[1]
  if not found then
    return nil, name .. " holds no nib binary"
  end
  local binary
  binary, err = place(found)
  vim.fn.delete(unpacked, "rf")
  return binary, err
end

-- Builds the plugin's own checkout with cargo (needs Rust, cmake and clang: llama.cpp builds too).
function M.build_from_source()
  local root = repo_root()
  local _, err = run({ "cargo", "build", "--release", "--locked", "--bin", "nib" }, { cwd = root })
  if err then
    return nil, err
  end
  local target = vim.env.CARGO_TARGET_DIR or (root .. "/target")
  return place(target .. "/release/nib" .. (windows and ".exe" or ""))
end

-- Installs the binary and says so; `opts.source` builds with cargo instead of fetching the release.
-- Blocks until done (lazy.nvim's build step waits for it the same way).
function M.install(opts)
  opts = opts or {}
  local binary, err
  if opts.source then
    binary, err = M.build_from_source()
  else
    binary, err = M.fetch_release()
  end
  if binary then
    local version = run({ binary, "--version" }) or ""
    vim.notify(("nib: installed %s (%s)"):format(binary, vim.trim(version)), vim.log.levels.INFO)
  else
    vim.notify("nib: install failed: " .. tostring(err), vim.log.levels.ERROR)
  end
  M.last = { binary = binary, error = err }
  return binary, err
end

return M
