//! Parses the search box's little query language: `word`, `"a phrase"`, `-excluded`, `tag:name`.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Word(String),
    Phrase(String),
    Exclude(String),
    Tag(String),
}

pub fn parse(input: &str) -> Vec<Term> {
    let mut terms = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '"' {
            chars.next();
            let phrase: String = chars.by_ref().take_while(|&c| c != '"').collect();
            if phrase.len() != 0 {
                terms.push(Term::Phrase(phrase));
            }
            continue;
        }
        let word: String = chars.by_ref().take_while(|c| !c.is_whitespace()).collect();
        terms.push(classify(&word));
    }
    terms
}

fn classify(word: &str) -> Term {
    if let Some(rest) = word.strip_prefix('-') {
        return Term::Exclude(rest.to_lowercase());
    }
    if let Some(rest) = word.strip_prefix("tag:") {
        return Term::Tag(rest.to_lowercase());
    }
    Term::Word(word.to_lowercase())
}

/// Whether a document's text and tags satisfy every term.
pub fn matches(terms: &[Term], text: &str, tags: &[String]) -> bool {
    let lower = text.to_lowercase();
    terms.iter().all(|term| match term {
        Term::Word(w) => lower.contains(w.as_str()),
        Term::Phrase(p) => lower.contains(&p.to_lowercase()),
        Term::Exclude(w) => !lower.contains(w.as_str()),
        Term::Tag(t) => tags.iter().any(|tag| tag.to_lowercase() == *t),
    })
}

pub fn describe(terms: &[Term]) -> String {
    let mut parts = Vec::new();
    for term in terms {
        let part = match term {
            Term::Word(w) => w.clone(),
            Term::Phrase(p) => format!("\"{}\"", p),
            Term::Exclude(w) => format!("not {}", w),
            Term::Tag(t) => format!("tagged {}", t),
        };
        parts.push(part);
    }
    return parts.join(" and ");
}
