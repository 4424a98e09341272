//! The languages nib parses: grammar, how a document is recognised, and the
//! queries from `grammars/<language>/*.scm`, compiled once on first use.

use std::sync::OnceLock;

use tree_sitter::Query;

/// The queries every language has; see `grammars/README.md` for their captures.
pub struct Queries {
    pub outline: Query,
    pub imports: Query,
    pub scopes: Query,
    pub references: Query,
}

pub struct Spec {
    pub name: &'static str,
    language_ids: &'static [&'static str],
    extensions: &'static [&'static str],
    /// How a line comment starts: labels and elisions in prompts use it.
    pub line_comment: &'static str,
    grammar: fn() -> tree_sitter::Language,
    /// outline, imports, scopes, references.
    sources: [&'static str; 4],
    queries: OnceLock<Option<Queries>>,
}

/// A language nib knows; cheap to copy.
#[derive(Clone, Copy)]
pub struct Language(&'static Spec);

macro_rules! queries {
    ($dir:literal) => {
        [
            include_str!(concat!("../../../../grammars/", $dir, "/outline.scm")),
            include_str!(concat!("../../../../grammars/", $dir, "/imports.scm")),
            include_str!(concat!("../../../../grammars/", $dir, "/scopes.scm")),
            include_str!(concat!("../../../../grammars/", $dir, "/references.scm")),
        ]
    };
}

static LANGUAGES: [Spec; 9] = [
    Spec {
        name: "rust",
        language_ids: &["rust"],
        extensions: &["rs"],
        line_comment: "//",
        grammar: || tree_sitter_rust::LANGUAGE.into(),
        sources: queries!("rust"),
        queries: OnceLock::new(),
    },
    Spec {
        name: "python",
        language_ids: &["python"],
        extensions: &["py", "pyi"],
        line_comment: "#",
        grammar: || tree_sitter_python::LANGUAGE.into(),
        sources: queries!("python"),
        queries: OnceLock::new(),
    },
    Spec {
        name: "javascript",
        language_ids: &["javascript", "javascriptreact"],
        extensions: &["js", "mjs", "cjs", "jsx"],
        line_comment: "//",
        grammar: || tree_sitter_javascript::LANGUAGE.into(),
        sources: queries!("javascript"),
        queries: OnceLock::new(),
    },
    Spec {
        name: "typescript",
        language_ids: &["typescript"],
        extensions: &["ts", "mts", "cts"],
        line_comment: "//",
        grammar: || tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        sources: queries!("typescript"),
        queries: OnceLock::new(),
    },
    Spec {
        name: "tsx",
        language_ids: &["typescriptreact"],
        extensions: &["tsx"],
        line_comment: "//",
        grammar: || tree_sitter_typescript::LANGUAGE_TSX.into(),
        sources: queries!("typescript"),
        queries: OnceLock::new(),
    },
    Spec {
        name: "go",
        language_ids: &["go"],
        extensions: &["go"],
        line_comment: "//",
        grammar: || tree_sitter_go::LANGUAGE.into(),
        sources: queries!("go"),
        queries: OnceLock::new(),
    },
    Spec {
        name: "c",
        language_ids: &["c"],
        extensions: &["c", "h"],
        line_comment: "//",
        grammar: || tree_sitter_c::LANGUAGE.into(),
        sources: queries!("c"),
        queries: OnceLock::new(),
    },
    Spec {
        name: "cpp",
        language_ids: &["cpp", "cuda-cpp"],
        extensions: &["cc", "cpp", "cxx", "c++", "hpp", "hh", "hxx", "h++"],
        line_comment: "//",
        grammar: || tree_sitter_cpp::LANGUAGE.into(),
        sources: queries!("cpp"),
        queries: OnceLock::new(),
    },
    Spec {
        name: "java",
        language_ids: &["java"],
        extensions: &["java"],
        line_comment: "//",
        grammar: || tree_sitter_java::LANGUAGE.into(),
        sources: queries!("java"),
        queries: OnceLock::new(),
    },
];

#[derive(Debug, thiserror::Error)]
#[error("grammars/{language}: {message}")]
pub struct QueryError {
    pub language: &'static str,
    pub message: String,
}

impl Language {
    /// By LSP languageId first, then by the path's extension; `None` for a language nib cannot parse.
    pub fn detect(language_id: &str, path: &str) -> Option<Language> {
        let by_id = LANGUAGES.iter().find(|l| l.language_ids.contains(&language_id));
        let extension = path.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase());
        let by_extension =
            || LANGUAGES.iter().find(|l| extension.as_deref().is_some_and(|ext| l.extensions.contains(&ext)));
        by_id.or_else(by_extension).map(Language)
    }

    pub fn all() -> impl Iterator<Item = Language> {
        LANGUAGES.iter().map(Language)
    }

    pub fn name(self) -> &'static str {
        self.0.name
    }

    pub fn line_comment(self) -> &'static str {
        self.0.line_comment
    }

    pub fn grammar(self) -> tree_sitter::Language {
        (self.0.grammar)()
    }

    /// The compiled queries; `None` (logged once) if one does not compile, which the tests rule out.
    pub fn queries(self) -> Option<&'static Queries> {
        self.0.queries.get_or_init(|| self.compile().map_err(|err| tracing::error!("{err}")).ok()).as_ref()
    }

    pub fn compile(self) -> Result<Queries, QueryError> {
        let grammar = self.grammar();
        let compile = |source: &str, file: &str| {
            Query::new(&grammar, source)
                .map_err(|e| QueryError { language: self.0.name, message: format!("{file}.scm: {e}") })
        };
        let [outline, imports, scopes, references] = self.0.sources;
        Ok(Queries {
            outline: compile(outline, "outline")?,
            imports: compile(imports, "imports")?,
            scopes: compile(scopes, "scopes")?,
            references: compile(references, "references")?,
        })
    }
}

impl std::fmt::Debug for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name)
    }
}

impl PartialEq for Language {
    fn eq(&self, other: &Language) -> bool {
        self.0.name == other.0.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_of_every_language_compiles() {
        for language in Language::all() {
            if let Err(err) = language.compile() {
                panic!("{err}");
            }
        }
    }

    #[test]
    fn language_comes_from_the_language_id_then_the_extension() {
        let name = |id: &str, path: &str| Language::detect(id, path).map(Language::name);
        assert_eq!(name("rust", "file:///x.txt"), Some("rust"));
        assert_eq!(name("typescriptreact", "file:///a.ts"), Some("tsx"));
        assert_eq!(name("plaintext", "file:///src/main.PY"), Some("python"));
        assert_eq!(name("", "file:///lib.hpp"), Some("cpp"));
        assert_eq!(name("markdown", "file:///README.md"), None);
        assert_eq!(name("", "file:///Makefile"), None);
    }
}
