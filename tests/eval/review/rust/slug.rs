//! URL slugs for article titles: lowercase ASCII words joined by hyphens, unique within a site.

use std::collections::HashSet;

/// The slug of a title: letters and digits kept (accents dropped), everything else a separator.
pub fn slugify(title: &str) -> String {
    let mut slug = String::with_capacity(title.len());
    let mut pending_hyphen = false;
    for c in title.chars() {
        let c = fold_accent(c);
        if c.is_ascii_alphanumeric() {
            if pending_hyphen && !slug.is_empty() {
                slug.push('-');
            }
            pending_hyphen = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            pending_hyphen = true;
        }
    }
    slug
}

fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ä' => 'a',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ò' | 'ó' | 'ô' | 'ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ç' => 'c',
        'ñ' => 'n',
        other => other,
    }
}

/// Hands out slugs that are unique among those already taken, adding `-2`, `-3`... when needed.
#[derive(Default)]
pub struct Slugs {
    taken: HashSet<String>,
}

impl Slugs {
    pub fn take(&mut self, title: &str) -> String {
        let base = match slugify(title) {
            s if s.is_empty() => "untitled".to_owned(),
            s => s,
        };
        let mut candidate = base.clone();
        let mut n = 2;
        while self.taken.contains(&candidate) {
            candidate = format!("{base}-{n}");
            n += 1;
        }
        self.taken.insert(candidate.clone());
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_become_unique_slugs() {
        let mut slugs = Slugs::default();
        assert_eq!(slugs.take("Héllo, World!"), "hello-world");
        assert_eq!(slugs.take("hello world"), "hello-world-2");
        assert_eq!(slugs.take("¿?"), "untitled");
    }
}
