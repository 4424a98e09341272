//! The crate lists written from `cargo metadata`: ARCHITECTURE.md's diagram and the README's layout. Each test
//! writes its block when it is stale and fails, so a new crate, a new dependency or a changed description shows in
//! `cargo test`; commit the result.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const WIDTH: usize = 116;

/// A workspace crate as the lists show it.
struct Crate {
    name: String,
    /// Its folder, from the repository's root (`server/vocab`).
    folder: String,
    description: String,
    /// The workspace crates it depends on (normal dependencies).
    uses: Vec<String>,
    /// The workspace crates that have it as a dev-dependency.
    tested_by: Vec<String>,
    /// No crate depends on it but as a dev-dependency.
    for_tests: bool,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The workspace's crates, the highest layer first (the longest chain of nib crates below it), then by name; the
/// crates only tests use come last.
fn crates() -> Vec<Crate> {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--manifest-path"])
        .arg(repo().join("Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata writes JSON");
    let root = std::fs::canonicalize(repo()).expect("the repository");
    let packages = metadata["packages"].as_array().expect("packages");
    let names: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut crates: BTreeMap<String, Crate> = BTreeMap::new();
    let mut dev: Vec<(String, String)> = Vec::new();
    for package in packages {
        let name = package["name"].as_str().expect("a name").to_owned();
        let manifest = Path::new(package["manifest_path"].as_str().expect("a manifest"));
        let folder =
            manifest.parent().and_then(|dir| dir.strip_prefix(&root).ok()).expect("a folder in the repository");
        let mut uses = Vec::new();
        for dependency in package["dependencies"].as_array().into_iter().flatten() {
            let Some(dep) = dependency["name"].as_str().filter(|d| names.contains(d)) else { continue };
            match dependency["kind"].as_str() {
                None => uses.push(dep.to_owned()),
                Some("dev") => dev.push((dep.to_owned(), name.clone())),
                Some(_) => {}
            }
        }
        uses.sort();
        uses.dedup();
        let description = package["description"].as_str().unwrap_or_else(|| panic!("{name} has no description"));
        let crate_ = Crate {
            folder: folder.to_string_lossy().replace('\\', "/"),
            description: description.to_owned(),
            name: name.clone(),
            uses,
            tested_by: Vec::new(),
            for_tests: false,
        };
        crates.insert(name, crate_);
    }
    for (dep, user) in dev {
        let tested_by = &mut crates.get_mut(&dep).expect("a workspace crate").tested_by;
        if !tested_by.contains(&user) {
            tested_by.push(user);
        }
    }
    let for_tests: Vec<String> = crates
        .values()
        .filter(|c| !c.tested_by.is_empty() && !crates.values().any(|other| other.uses.contains(&c.name)))
        .map(|c| c.name.clone())
        .collect();
    let mut depths: BTreeMap<String, usize> = BTreeMap::new();
    for name in crates.keys() {
        depth(name, &crates, &mut depths);
    }
    let mut order: Vec<Crate> = crates.into_values().collect();
    for c in &mut order {
        c.for_tests = for_tests.contains(&c.name);
        c.tested_by.sort();
    }
    order.sort_by_key(|c| (c.for_tests, std::cmp::Reverse(depths[&c.name]), c.name.clone()));
    order
}

/// The longest chain of workspace crates below `name`.
fn depth(name: &str, crates: &BTreeMap<String, Crate>, depths: &mut BTreeMap<String, usize>) -> usize {
    if let Some(&d) = depths.get(name) {
        return d;
    }
    let d = crates[name].uses.iter().map(|dep| depth(dep, crates, depths) + 1).max().unwrap_or(0);
    depths.insert(name.to_owned(), d);
    d
}

fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line");
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > width {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines.join(&format!("\n{indent}"))
}

/// Replaces what lies between `begin` and `end` in `path` with `block`; when that changed the file, writes it and
/// fails.
fn ensure_block(path: &str, begin: &str, end: &str, block: &str) {
    let file = repo().join(path);
    let old = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let (Some(start), Some(stop)) = (old.find(begin), old.find(end)) else {
        panic!("{path} lacks the markers {begin:?} and {end:?}");
    };
    let new = format!("{}{begin}{block}{}", &old[..start], &old[stop..]);
    if old != new {
        std::fs::write(&file, new).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
        panic!("{path} was stale and has been written again from `cargo metadata`: review and commit it");
    }
}

/// Each crate: its name and folder, what it is, the nib crates it depends on, and for a test crate those it tests.
fn diagram(crates: &[Crate]) -> String {
    let indent = " ".repeat(4);
    let mut out = String::from("```text\n");
    for c in crates {
        out.push_str(&format!("{} ({})\n{indent}{}\n", c.name, c.folder, wrap(&c.description, WIDTH, &indent)));
        let mut arrow = match c.uses.is_empty() {
            true => "→ no nib crate".to_owned(),
            false => format!("→ {}", c.uses.join(", ")),
        };
        if c.for_tests {
            arrow.push_str(&format!("; for tests only, a dev-dependency of {}", c.tested_by.join(", ")));
        }
        out.push_str(&format!("{indent}{}\n", wrap(&arrow, WIDTH, &format!("{indent}  "))));
    }
    out.push_str("```\n");
    out
}

#[test]
fn the_architecture_diagram() {
    let block = diagram(&crates());
    ensure_block(
        "ARCHITECTURE.md",
        "<!-- crates: generated by server/nib/tests/crates.rs -->\n",
        "<!-- crates end -->",
        &block,
    );
}

#[test]
fn the_readme_layout() {
    let crates = crates();
    let mut block = String::new();
    for c in &crates {
        let line = format!("- `{}` (`{}`): {}", c.folder, c.name, c.description);
        block.push_str(&wrap(&line, WIDTH, "  "));
        block.push('\n');
    }
    ensure_block(
        "README.md",
        "<!-- crates: generated by server/nib/tests/crates.rs -->\n",
        "<!-- crates end -->",
        &block,
    );
}
