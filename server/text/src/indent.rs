//! Indentation, read one way by every crate: completion trimming, context elision and the
//! benchmark's block masking must agree on where a block ends.

/// The leading spaces and tabs of a line.
pub fn indentation(line: &str) -> &str {
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// The width of a line's indentation in columns. A tab counts as 4, the editors' usual tab size:
/// a line indented with a tab is deeper than one indented with one to three spaces.
pub fn indent_width(line: &str) -> usize {
    indentation(line).chars().map(|c| if c == '\t' { 4 } else { 1 }).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tab_is_four_columns() {
        assert_eq!(indentation("\t  x = 1 "), "\t  ");
        assert_eq!(indent_width("\t  x = 1"), 6);
        assert_eq!(indent_width("    "), 4);
        assert_eq!(indent_width("x"), 0);
    }
}
