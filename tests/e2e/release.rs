//! Release and CI files as users meet them: the changelog section a release quotes; `ci/install.sh` against a
//! loopback release server holding the real archive of the built binary (and misbehaving on purpose); the GitHub
//! action's and the GitLab template's own steps, run as their runners run them, on a small git repository; and the
//! shape of `action.yml`, the template and the workflows (actionlint checks workflows only), their shell steps
//! through shellcheck.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use expect_test::{Expect, expect};
use nib_bench::faults::{Fault, FaultProxy};
use yaml_rust2::{Yaml, YamlLoader};

use crate::review::repository;
use crate::support::{BUGGY, fresh_home, off_by_one, seed_review};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The repository's root (tests run in server/nib).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository root")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn load_yaml(path: &str) -> Yaml {
    let source = std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut docs = YamlLoader::load_from_str(&source).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"));
    assert_eq!(docs.len(), 1, "{path}: one document");
    docs.remove(0)
}

fn str_of<'a>(yaml: &'a Yaml, what: &str) -> &'a str {
    yaml.as_str().unwrap_or_else(|| panic!("{what} is not a string: {yaml:?}"))
}

/// A mapping's keys and values, the keys as strings.
fn entries<'a>(yaml: &'a Yaml, what: &str) -> Vec<(&'a str, &'a Yaml)> {
    let hash = yaml.as_hash().unwrap_or_else(|| panic!("{what} is not a mapping: {yaml:?}"));
    hash.iter().map(|(k, v)| (str_of(k, what), v)).collect()
}

/// Every string in a YAML tree, keys included.
fn strings(yaml: &Yaml, out: &mut Vec<String>) {
    match yaml {
        Yaml::String(s) => out.push(s.clone()),
        Yaml::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Yaml::Hash(hash) => hash.iter().for_each(|(k, v)| {
            strings(k, out);
            strings(v, out);
        }),
        _ => {}
    }
}

/// The names after `prefix` (`inputs.`, `steps.`) in `text`, as GitHub's expressions spell them.
fn names_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in text.match_indices(prefix) {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        let name: String =
            text[at + prefix.len()..].chars().take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_').collect();
        names.insert(name);
    }
    names
}

/// The `NIB_REVIEW_*` variables ci/review.sh reads: what the action and the template may set.
fn review_variables() -> BTreeSet<String> {
    let script = std::fs::read_to_string(root().join("ci/review.sh")).unwrap();
    let mut names = BTreeSet::new();
    for (at, _) in script.match_indices("NIB_REVIEW_") {
        let name: String = script[at..].chars().take_while(|c| c.is_ascii_uppercase() || *c == '_').collect();
        names.insert(name);
    }
    names
}

/// `${{ expr }}` replaced by what `value` gives each expression, as a runner evaluates them.
fn expand(text: &str, value: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let end = rest[start..].find("}}").expect("a closed expression") + start;
        out.push_str(&rest[..start]);
        out.push_str(&value(rest[start + 3..end].trim()));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A shell script as a runner runs a step's `run` (GitHub: `bash --noprofile --norc -eo pipefail FILE`).
fn bash_step(script: &str, dir: &Path, env: &[(String, String)]) -> Output {
    let file = fresh_home().join("step.sh");
    std::fs::write(&file, script).unwrap();
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail"]).arg(&file).current_dir(dir);
    cmd.env_remove("NIB_MODEL").env("NIB_CONFIG", "/nonexistent/nib-test-config.toml");
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.output().unwrap()
}

#[test]
fn the_changelog_section_of_a_version_is_what_the_release_quotes() {
    let fixture = root().join("tests/fixtures/changelog.md");
    let check = |version: &str, expect: Expect| {
        let out = Command::new("bash").arg(root().join(".ci/changelog")).arg(version).arg(&fixture).output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        let shown = format!("exit {code}\n{}{}", text(&out.stdout), text(&out.stderr));
        expect.assert_eq(&shown.replace(root().to_str().unwrap(), "<root>"));
    };
    check(
        "v1.1.0",
        expect![[r#"
            exit 0
            ### Added

            - Review on save.
              A second line of the same entry.

            ### Fixed
            - A crash on an empty file.
        "#]],
    );
    check(
        "1.0.0",
        expect![[r#"
            exit 0
            - The first release.
        "#]],
    );
    check(
        "Unreleased",
        expect![[r#"
            exit 0
            ### Changed
            - Faster.
        "#]],
    );
    // `1.1` is not `1.1.0`; an empty section is no release notes.
    check(
        "1.1",
        expect![[r#"
            exit 1
            changelog: <root>/tests/fixtures/changelog.md has no section for 1.1, or it is empty: add `## [1.1] - YYYY-MM-DD`
        "#]],
    );
    check(
        "0.9.0",
        expect![[r#"
            exit 1
            changelog: <root>/tests/fixtures/changelog.md has no section for 0.9.0, or it is empty: add `## [0.9.0] - YYYY-MM-DD`
        "#]],
    );

    // The repository's own changelog has the section a release of this version would quote, or an Unreleased
    // one to rename; the extension is released with the same version.
    let own = |version: &str| {
        let mut cmd = Command::new("bash");
        cmd.arg(root().join(".ci/changelog")).arg(version).current_dir(root());
        cmd
    };
    let ok = |mut cmd: Command| cmd.output().unwrap().status.success();
    assert!(ok(own(VERSION)) || ok(own("Unreleased")), "CHANGELOG.md has no section for {VERSION} nor Unreleased");
    let package: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("editors/vscode/package.json")).unwrap()).unwrap();
    assert_eq!(package["version"], VERSION, "the extension's version is the workspace's");
}

/// The release archive of the built binary, packed once per run by .ci/package (gzip takes seconds on it).
fn packed() -> &'static Path {
    static PACKED: OnceLock<PathBuf> = OnceLock::new();
    PACKED.get_or_init(|| {
        let out = Command::new("bash")
            .arg(root().join(".ci/package"))
            .args([env!("CARGO_BIN_EXE_nib"), target().as_str(), ""])
            .arg(fresh_home().join("packed"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let archive = PathBuf::from(text(&out.stdout).trim());
        assert_eq!(archive.file_name().unwrap().to_string_lossy(), format!("nib-{VERSION}-{}.tar.gz", target()));
        archive
    })
}

/// A hard link where the file system allows, else a copy.
fn link_or_copy(from: &Path, to: &Path) {
    std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(drop)).unwrap();
}

/// This machine's Rust target triple, as ci/install.sh works it out.
fn target() -> String {
    format!("{}-unknown-linux-gnu", std::env::consts::ARCH)
}

/// A release laid out as GitHub lays it (`latest` redirects to the tag; each release's files, the archive of the
/// built binary packed by .ci/package, SHA256SUMS and the CI scripts, under `download/vX.Y.Z/`), served from a
/// folder by Python's http.server on loopback, behind a proxy that cuts downloads when asked.
struct Releases {
    download: PathBuf,
    archive: String,
    sums: String,
    server: Child,
    proxy: FaultProxy,
}

const SERVER: &str = r#"
import http.server, os, sys
version = sys.argv[2]
class Handler(http.server.SimpleHTTPRequestHandler):
    def redirect(self):
        to = None
        if self.path == "/releases/latest":
            to = "/releases/tag/v" + version
        elif self.path.startswith("/releases/latest/download/"):
            to = "/releases/download/v" + version + "/" + self.path.rsplit("/", 1)[1]
        if to is None:
            return False
        self.send_response(302)
        self.send_header("Location", to)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True
    def do_GET(self):
        self.redirect() or super().do_GET()
    def do_HEAD(self):
        self.redirect() or super().do_HEAD()
    def log_message(self, *args):
        pass
os.chdir(sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
# A download the proxy cuts resets the connection: expected, not worth a traceback.
server.handle_error = lambda request, address: None
print(server.server_port, flush=True)
server.serve_forever()
"#;

impl Releases {
    fn start() -> Releases {
        let site = fresh_home().join("site");
        let download = site.join(format!("releases/download/v{VERSION}"));
        std::fs::create_dir_all(&download).unwrap();
        std::fs::create_dir_all(site.join("releases/tag")).unwrap();
        std::fs::write(site.join(format!("releases/tag/v{VERSION}")), "the release's page\n").unwrap();
        let archive = packed().file_name().unwrap().to_string_lossy().into_owned();
        link_or_copy(packed(), &download.join(&archive));
        for script in ["install.sh", "review.sh"] {
            std::fs::copy(root().join("ci").join(script), download.join(script)).unwrap();
        }
        // As the release job writes it.
        let out =
            Command::new("sh").args(["-c", "sha256sum -- * >SHA256SUMS"]).current_dir(&download).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let sums = std::fs::read_to_string(download.join("SHA256SUMS")).unwrap();

        let mut server = Command::new("python3")
            .args(["-c", SERVER])
            .arg(&site)
            .arg(VERSION)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut port = String::new();
        BufReader::new(server.stdout.take().unwrap()).read_line(&mut port).unwrap();
        let proxy = FaultProxy::start(&format!("http://127.0.0.1:{}", port.trim())).unwrap();
        Releases { download, archive, sums, server, proxy }
    }

    /// What `NIB_RELEASES_URL` names.
    fn url(&self) -> String {
        format!("{}/releases/download", self.proxy.url())
    }

    fn install(&self, dir: &Path, args: &[&str]) -> Output {
        Command::new("bash")
            .arg(root().join("ci/install.sh"))
            .arg("--dir")
            .arg(dir)
            .args(args)
            .env("NIB_RELEASES_URL", self.url())
            .output()
            .unwrap()
    }

    fn write_sums(&self, sums: &str) {
        std::fs::write(self.download.join("SHA256SUMS"), sums).unwrap();
    }
}

impl Drop for Releases {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// The names in a folder: after an install, only the binary; after a refused one, what was there before.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn install_checks_the_archive_before_the_binary_takes_its_name() {
    let releases = Releases::start();
    let built_version = Command::new(env!("CARGO_BIN_EXE_nib")).arg("--version").output().unwrap();

    // The latest release, found through the redirect, its checksum right: installed, and it runs.
    let dir = fresh_home().join("bin");
    let out = releases.install(&dir, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let installed = dir.join("nib");
    assert_eq!(text(&out.stdout).trim(), installed.to_str().unwrap());
    assert_eq!(listing(&dir), ["nib"], "nothing else is left in the folder");
    let version = Command::new(&installed).arg("--version").output().unwrap();
    assert!(version.status.success());
    assert_eq!(text(&version.stdout), text(&built_version.stdout));
    assert!(text(&version.stdout).starts_with(&format!("nib {VERSION} (commit ")), "{}", text(&version.stdout));

    // Over a binary already there, each failure below leaves that one as it was.
    let previous = fresh_home().join("bin");
    std::fs::create_dir_all(&previous).unwrap();
    std::fs::write(previous.join("nib"), "the nib installed before\n").unwrap();
    let refused = |args: &[&str], says: &str| {
        for dir in [fresh_home().join("bin"), previous.clone()] {
            let before = listing(&dir);
            let out = releases.install(&dir, args);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out.stderr));
            assert!(text(&out.stderr).contains(says), "{args:?}: {}", text(&out.stderr));
            assert!(out.stdout.is_empty(), "{args:?}: no path printed");
            assert_eq!(listing(&dir), before, "{args:?}: nothing added or left behind");
        }
        let kept = std::fs::read_to_string(previous.join("nib")).unwrap();
        assert_eq!(kept, "the nib installed before\n");
    };
    let tag = format!("v{VERSION}");
    let explicit = ["--version", tag.as_str()];

    // A wrong checksum.
    let wrong = releases.sums.replace(&sha256_of(&releases.download.join(&releases.archive)), &"0".repeat(64));
    assert_ne!(wrong, releases.sums);
    releases.write_sums(&wrong);
    refused(&explicit, "SHA256SUMS says 0000");
    // An archive SHA256SUMS does not list.
    let unlisted: String = releases.sums.lines().filter(|l| !l.contains(".tar.gz")).map(|l| format!("{l}\n")).collect();
    releases.write_sums(&unlisted);
    refused(&explicit, "does not list");
    releases.write_sums(&releases.sums);

    // A download cut short: the connection closes after the first megabyte.
    let archive_path = format!("/releases/download/v{VERSION}/{}", releases.archive);
    let fetched = releases.proxy.requests(&archive_path);
    releases.proxy.set(&archive_path, Fault::Truncate { after_bytes: 1 << 20 });
    refused(&explicit, "cannot download");
    assert_eq!(releases.proxy.requests(&archive_path), fetched + 2, "one cut download per folder");
    releases.proxy.clear();

    // What there is no release of, or no such release.
    refused(&["--variant", "metal"], "unknown variant metal");
    refused(&["--target", "aarch64-apple-darwin", "--variant", "cuda"], "no cuda build for aarch64-apple-darwin");
    refused(&["--version", "1.2"], "not a release version: 1.2");
    refused(&["--version", "9.9.9"], "cannot download");

    // Then a whole download installs over the old binary.
    let out = releases.install(&previous, &explicit);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(listing(&previous), ["nib"]);
    assert_eq!(Command::new(previous.join("nib")).arg("--version").output().unwrap().stdout, built_version.stdout);
}

fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    text(&out.stdout).split_whitespace().next().unwrap().to_owned()
}

/// A repository whose last commit turns a correct function into `BUGGY`; its first commit, the base.
fn changed_repository(home: &Path) -> (PathBuf, String) {
    let repo = repository(&[("src/items.py", "def last_item(items):\n    return items[-1]\n")]);
    let git = |args: &[&str]| {
        let out = Command::new("git").args(args).current_dir(&repo).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
        text(&out.stdout).trim().to_owned()
    };
    let base = git(&["rev-parse", "HEAD"]);
    std::fs::write(repo.join("src/items.py"), BUGGY).unwrap();
    git(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "last_item"]);
    // The model's review of the changed function, as a past run left it; `nib models pull` finds the model
    // there whole (a link, or a copy on another file system) and returns at once.
    seed_review(home, BUGGY, &off_by_one());
    let model = nib_pipeline::config::default_model_path();
    std::fs::create_dir_all(home.join("models")).unwrap();
    link_or_copy(&model, &home.join("models").join(model.file_name().unwrap()));
    (repo, base)
}

/// The action's steps by name: their `run`, and their `env` with the expressions evaluated as a runner would.
fn action_step(action: &Yaml, name: &str, value: &dyn Fn(&str) -> String) -> (String, Vec<(String, String)>) {
    let steps = action["runs"]["steps"].as_vec().unwrap();
    let step = steps.iter().find(|s| s["name"].as_str() == Some(name)).unwrap_or_else(|| panic!("no step {name}"));
    let env =
        entries(&step["env"], name).into_iter().map(|(k, v)| (k.to_owned(), expand(str_of(v, k), value))).collect();
    (str_of(&step["run"], name).to_owned(), env)
}

#[test]
fn the_action_installs_the_release_and_reviews_the_pull_request() {
    let releases = Releases::start();
    let home = fresh_home();
    let (repo, base) = changed_repository(&home);
    let temp = fresh_home();
    let action = load_yaml("action.yml");
    let given: HashMap<&str, &str> = HashMap::from([("base", base.as_str()), ("fail-level", "error")]);
    let inputs = entries(&action["inputs"], "inputs");
    let value = |expr: &str| -> String {
        if expr == "runner.temp" {
            return temp.to_string_lossy().into_owned();
        }
        let name = expr.strip_prefix("inputs.").unwrap_or_else(|| panic!("a runner would evaluate {expr}"));
        if let Some(v) = given.get(name) {
            return v.to_string();
        }
        let default = inputs.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no input {name}")).1["default"]
            .as_str()
            .unwrap_or_default();
        // Defaults that read the event (the base, the token) are given above or empty outside GitHub.
        if default.contains("${{") { String::new() } else { default.to_owned() }
    };
    let github_path = temp.join("github_path");
    let github_output = temp.join("github_output");
    let runner = |extra: Vec<(String, String)>| {
        let mut env = vec![
            ("GITHUB_ACTION_PATH".to_owned(), root().to_string_lossy().into_owned()),
            ("GITHUB_PATH".to_owned(), github_path.to_string_lossy().into_owned()),
            ("GITHUB_OUTPUT".to_owned(), github_output.to_string_lossy().into_owned()),
            ("NIB_RELEASES_URL".to_owned(), releases.url()),
        ];
        env.extend(extra);
        env
    };

    let (run, env) = action_step(&action, "Install nib", &value);
    let out = bash_step(&run, &repo, &runner(env));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bin_dir = std::fs::read_to_string(&github_path).unwrap().trim().to_owned();
    assert_eq!(listing(Path::new(&bin_dir)), ["nib"]);

    // The review step, with the installed nib first on PATH as GITHUB_PATH puts it.
    let (run, mut env) = action_step(&action, "Review", &value);
    env.retain(|(k, _)| k != "NIB_HOME");
    env.push(("NIB_HOME".into(), home.to_string_lossy().into_owned()));
    env.push(("PATH".into(), format!("{bin_dir}:{}", std::env::var("PATH").unwrap())));
    let out = bash_step(&run, &repo, &runner(env));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a finding at the fail level fails the step: {stderr}");
    assert!(stderr.contains(&format!("--diff {base} --format sarif")), "{stderr}");
    assert_eq!(std::fs::read_to_string(&github_output).unwrap(), "report=nib-review.sarif\n");
    let sarif: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.join("nib-review.sarif")).unwrap()).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{sarif}");
    assert_eq!(results[0]["ruleId"], "bug");
    let location = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "src/items.py");
    assert_eq!(location["region"]["startLine"], 2);
}

#[test]
fn the_gitlab_template_installs_the_release_and_writes_a_code_quality_report() {
    let releases = Releases::start();
    let project = fresh_home();
    let (repo, base) = changed_repository(&project.join("nib-home"));
    let template = load_yaml("ci/gitlab-nib-review.yml");
    let job = &template["nib-review"];
    // GitLab's own variables, then the template's, expanded as GitLab expands them.
    let mut env: Vec<(String, String)> = vec![
        ("CI_PROJECT_DIR".into(), repo.to_string_lossy().into_owned()),
        ("CI_MERGE_REQUEST_DIFF_BASE_SHA".into(), base.clone()),
    ];
    for (name, value) in entries(&job["variables"], "variables") {
        let mut value = str_of(value, name).to_owned();
        for (known, by) in env.clone() {
            value = value.replace(&format!("${known}"), &by);
        }
        env.push((name.to_owned(), value));
    }
    let set = |env: &mut Vec<(String, String)>, name: &str, value: String| {
        env.iter_mut().find(|(n, _)| n == name).unwrap_or_else(|| panic!("the template sets no {name}")).1 = value;
    };
    set(&mut env, "NIB_RELEASES_URL", releases.url());
    set(&mut env, "NIB_HOME", project.join("nib-home").to_string_lossy().into_owned());
    let lines: Vec<String> = ["before_script", "script"]
        .iter()
        .flat_map(|part| job[*part].as_vec().unwrap().iter().map(|l| str_of(l, part).to_owned()))
        .collect();
    let out = bash_step(&lines.join("\n"), &repo, &env);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "the fail level is none: {stderr}");
    assert!(stderr.contains("install.sh: installed nib"), "{stderr}");
    let report_name = str_of(&job["artifacts"]["reports"]["codequality"], "codequality");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(repo.join(report_name)).unwrap()).unwrap();
    assert_eq!(report.as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report[0]["location"]["path"], "src/items.py");
    assert_eq!(report[0]["location"]["lines"]["begin"], 2);
}

#[test]
fn the_review_step_refuses_settings_that_cannot_work() {
    let repo = repository(&[("a.py", BUGGY)]);
    let cases = [
        (&[("NIB_REVIEW_FORMAT", "sarif"), ("NIB_REVIEW_REPORTER", "github-pr-review")][..], "reviewdog reads rdjsonl"),
        (&[("NIB_REVIEW_FORMAT", "github"), ("NIB_REVIEW_UPLOAD_SARIF", "true")], "code scanning takes SARIF"),
        (&[("NIB_REVIEW_BASE", "no-such-revision")], "cannot find or fetch the base revision no-such-revision"),
        (&[("NIB_REVIEW_BACKEND", "openai"), ("NIB_REVIEW_MODEL", "qwen2.5-coder-1.5b")], "must be a GGUF file"),
        (
            &[("NIB_REVIEW_BACKEND", "openai"), ("NIB_REVIEW_API_KEY_ENV", "MY-TOKEN")],
            "not an environment variable's name",
        ),
        (&[("NIB_REVIEW_BACKEND", "openai"), ("NIB_REVIEW_API_KEY_ENV", "MY_TOKEN")], "NIB_CONFIG is set"),
    ];
    for (settings, says) in cases {
        let mut env = vec![("NIB_REVIEW_BASE".to_owned(), "HEAD".to_owned())];
        env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let out = bash_step(
            "bash \"$GITHUB_ACTION_PATH/ci/review.sh\"",
            &repo,
            &[env, vec![("GITHUB_ACTION_PATH".into(), root().to_string_lossy().into_owned())]].concat(),
        );
        assert_eq!(out.status.code(), Some(2), "{settings:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(says), "{settings:?}: {}", text(&out.stderr));
    }
}

#[test]
fn the_action_declares_what_its_steps_use() {
    let action = load_yaml("action.yml");
    let keys: BTreeSet<&str> = entries(&action, "action.yml").into_iter().map(|(k, _)| k).collect();
    let allowed = BTreeSet::from(["name", "author", "description", "inputs", "outputs", "runs", "branding"]);
    assert!(keys.is_subset(&allowed), "unknown keys: {:?}", keys.difference(&allowed));
    for key in ["name", "description"] {
        assert!(!str_of(&action[key], key).is_empty());
    }
    let mut inputs = BTreeSet::new();
    for (name, input) in entries(&action["inputs"], "inputs") {
        assert!(!str_of(&input["description"], name).is_empty(), "input {name} has no description");
        // Inputs are strings: `true` unquoted would be a YAML boolean.
        assert!(input["default"].is_badvalue() || input["default"].as_str().is_some(), "input {name}'s default");
        inputs.insert(name.to_owned());
    }
    for (name, output) in entries(&action["outputs"], "outputs") {
        assert!(output["description"].as_str().is_some() && output["value"].as_str().is_some(), "output {name}");
    }
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    let steps = action["runs"]["steps"].as_vec().unwrap();
    let mut ids = BTreeSet::new();
    for step in steps {
        let name = str_of(&step["name"], "a step's name");
        match (step["run"].as_str(), step["uses"].as_str()) {
            (Some(_), None) => {
                assert_eq!(step["shell"].as_str(), Some("bash"), "step {name}: a run step needs a shell")
            }
            (None, Some(uses)) => {
                let (action, version) = uses.split_once('@').unwrap();
                assert!(action.split('/').count() >= 2, "step {name}: {uses}");
                assert!(version.starts_with('v'), "step {name}: pinned to a release tag, {uses}");
            }
            _ => panic!("step {name}: either run or uses"),
        }
        if let Some(id) = step["id"].as_str() {
            assert!(ids.insert(id.to_owned()), "step id {id} twice");
        }
    }

    let mut all = Vec::new();
    strings(&action, &mut all);
    let all = all.join("\n");
    let used = names_after(&all, "inputs.");
    assert_eq!(used, inputs, "inputs used and inputs declared");
    let steps_used = names_after(&all, "steps.");
    assert!(steps_used.is_subset(&ids), "steps named but not there: {:?}", steps_used.difference(&ids));

    // The action passes each of ci/review.sh's settings; the GitLab template all but the GitHub-only ones.
    let review_env: BTreeSet<String> =
        action_step(&action, "Review", &|_: &str| String::new()).1.into_iter().map(|(k, _)| k).collect();
    let settings = review_variables();
    let passed: BTreeSet<String> = review_env.iter().filter(|k| k.starts_with("NIB_REVIEW_")).cloned().collect();
    assert_eq!(passed, settings);
    let template = load_yaml("ci/gitlab-nib-review.yml");
    let job = &template["nib-review"];
    let set: BTreeSet<String> = entries(&job["variables"], "variables")
        .into_iter()
        .map(|(k, _)| k.to_owned())
        .filter(|k| k.starts_with("NIB_REVIEW_"))
        .collect();
    let github_only: BTreeSet<String> = ["NIB_REVIEW_REPORTER", "NIB_REVIEW_UPLOAD_SARIF"].map(String::from).into();
    assert_eq!(set, settings.difference(&github_only).cloned().collect::<BTreeSet<String>>());
    assert_eq!(job["variables"]["NIB_REVIEW_FORMAT"].as_str(), Some("gitlab"));
    assert_eq!(job["variables"]["NIB_REVIEW_OUTPUT"].as_str(), job["artifacts"]["reports"]["codequality"].as_str());
}

/// Every workflow parses, and every shell step of the workflows and the action passes shellcheck, with the
/// expressions blanked the way actionlint does it (the wasm actionlint of `.ci/test` cannot run shellcheck).
#[test]
fn shell_steps_and_scripts_pass_shellcheck() {
    let shellcheck = Command::new("shellcheck").arg("--version").output();
    assert!(shellcheck.is_ok_and(|o| o.status.success()), "no shellcheck: run .ci/setup --editors");
    let mut scripts: Vec<(String, String)> = Vec::new();
    let mut steps_of = |file: &str, steps: &Yaml| {
        for (i, step) in steps.as_vec().unwrap().iter().enumerate() {
            if let Some(run) = step["run"].as_str() {
                let blanked = expand(run, &|expr: &str| "_".repeat(expr.len() + 6));
                scripts.push((format!("{file}, step {} ({})", i + 1, step["name"].as_str().unwrap_or("-")), blanked));
            }
        }
    };
    steps_of("action.yml", &load_yaml("action.yml")["runs"]["steps"]);
    let workflows = root().join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&workflows).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty());
    for path in files {
        let file = format!(".github/workflows/{}", path.file_name().unwrap().to_string_lossy());
        let workflow = load_yaml(&file);
        assert_eq!(workflow["defaults"]["run"]["shell"].as_str(), Some("bash"), "{file}: steps run in bash");
        for (job, body) in entries(&workflow["jobs"], "jobs") {
            steps_of(&format!("{file}, job {job}"), &body["steps"]);
        }
    }
    let mut failures = Vec::new();
    for (name, script) in &scripts {
        let mut child = Command::new("shellcheck")
            .args(["--shell=bash", "--format=gcc", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), script.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            failures.push(format!("{name}:\n{}", text(&out.stdout)));
        }
    }
    let files = ["ci/install.sh", "ci/review.sh", ".ci/changelog", ".ci/package"];
    let out = Command::new("shellcheck").arg("--format=gcc").args(files).current_dir(root()).output().unwrap();
    if !out.status.success() {
        failures.push(text(&out.stdout));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
