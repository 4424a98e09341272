//! Records the commit `nib --version` names (see src/build_info.rs) as `NIB_COMMIT` for the compiler.

#[path = "src/build_info.rs"]
mod build_info;

fn main() {
    println!("cargo::rerun-if-env-changed=NIB_COMMIT");
    let overridden = std::env::var("NIB_COMMIT").ok();
    let dir = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let (commit, watched) = build_info::commit(overridden.as_deref(), &dir);
    for path in watched {
        println!("cargo::rerun-if-changed={}", path.display());
    }
    println!("cargo::rustc-env=NIB_COMMIT={commit}");
}
