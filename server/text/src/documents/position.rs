//! Positions in editor terms (line + column in a negotiated encoding) and their
//! conversion to rope char offsets.
//!
//! Columns are newtypes per encoding so a UTF-16 column can never be read as a
//! UTF-8 one. Only `\n`, `\r\n` and `\r` end a line, as LSP says (ropey is built
//! without `unicode_lines`).

use ropey::Rope;

/// How the client counts columns, negotiated at `initialize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PositionEncoding {
    /// Columns are UTF-8 code units (bytes).
    Utf8,
    /// Columns are UTF-16 code units: LSP's default.
    #[default]
    Utf16,
}

/// A column counted in the unit of one encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Utf8(u32),
    Utf16(u32),
}

impl Column {
    pub fn new(encoding: PositionEncoding, units: u32) -> Column {
        match encoding {
            PositionEncoding::Utf8 => Column::Utf8(units),
            PositionEncoding::Utf16 => Column::Utf16(units),
        }
    }
}

/// A zero-based line and a column in the client's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: u32,
    pub column: Column,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PositionError {
    #[error("line {line} is out of range: the document has {n_lines} lines")]
    LineOutOfRange { line: u32, n_lines: usize },
    #[error("range end {end} comes before its start {start}")]
    InvertedRange { start: usize, end: usize },
}

/// Char offset of `pos` in `rope`. A column past the end of its line is clamped
/// to the line's end (LSP's rule); a line past the last is an error.
pub fn to_char_offset(rope: &Rope, pos: Position) -> Result<usize, PositionError> {
    let line = pos.line as usize;
    if line >= rope.len_lines() {
        return Err(PositionError::LineOutOfRange { line: pos.line, n_lines: rope.len_lines() });
    }
    let line_start = rope.line_to_char(line);
    let line_end = line_start + line_len_chars(rope, line);
    let offset = match pos.column {
        Column::Utf8(units) => {
            let byte = rope.char_to_byte(line_start) + units as usize;
            let end_byte = rope.char_to_byte(line_end);
            // byte_to_char rounds a byte inside a char down to that char.
            rope.byte_to_char(byte.min(end_byte))
        }
        Column::Utf16(units) => {
            let cu = rope.char_to_utf16_cu(line_start) + units as usize;
            let end_cu = rope.char_to_utf16_cu(line_end);
            rope.utf16_cu_to_char(cu.min(end_cu))
        }
    };
    Ok(offset)
}

/// The position of char `offset` in `rope`, in `encoding`.
pub fn from_char_offset(rope: &Rope, offset: usize, encoding: PositionEncoding) -> Position {
    let offset = offset.min(rope.len_chars());
    let line = rope.char_to_line(offset);
    let line_start = rope.line_to_char(line);
    let units = match encoding {
        PositionEncoding::Utf8 => rope.char_to_byte(offset) - rope.char_to_byte(line_start),
        PositionEncoding::Utf16 => rope.char_to_utf16_cu(offset) - rope.char_to_utf16_cu(line_start),
    };
    Position { line: line as u32, column: Column::new(encoding, units as u32) }
}

/// Length of `line` in chars, without its line break.
pub fn line_len_chars(rope: &Rope, line: usize) -> usize {
    let slice = rope.line(line);
    let n = slice.len_chars();
    let ends_with = |c: char| n > 0 && slice.char(n - 1) == c;
    if ends_with('\n') {
        if n > 1 && slice.char(n - 2) == '\r' { n - 2 } else { n - 1 }
    } else if ends_with('\r') {
        n - 1
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: u32, column: Column) -> Position {
        Position { line, column }
    }

    #[test]
    fn utf16_counts_surrogate_pairs_as_two_units() {
        // '𝄞' is one char, two UTF-16 units and four UTF-8 bytes.
        let rope = Rope::from_str("a𝄞b\n");
        assert_eq!(to_char_offset(&rope, pos(0, Column::Utf16(1))), Ok(1));
        assert_eq!(to_char_offset(&rope, pos(0, Column::Utf16(3))), Ok(2));
        assert_eq!(to_char_offset(&rope, pos(0, Column::Utf8(5))), Ok(2));
        assert_eq!(from_char_offset(&rope, 2, PositionEncoding::Utf16), pos(0, Column::Utf16(3)));
        assert_eq!(from_char_offset(&rope, 2, PositionEncoding::Utf8), pos(0, Column::Utf8(5)));
    }

    #[test]
    fn a_column_inside_a_char_rounds_down_to_that_char() {
        let rope = Rope::from_str("a𝄞b");
        assert_eq!(to_char_offset(&rope, pos(0, Column::Utf16(2))), Ok(1));
        assert_eq!(to_char_offset(&rope, pos(0, Column::Utf8(3))), Ok(1));
    }

    #[test]
    fn crlf_is_one_line_break_and_columns_stop_before_it() {
        let rope = Rope::from_str("ab\r\ncd\ref");
        assert_eq!(rope.len_lines(), 3);
        assert_eq!(to_char_offset(&rope, pos(0, Column::Utf16(99))), Ok(2));
        assert_eq!(to_char_offset(&rope, pos(1, Column::Utf16(1))), Ok(5));
        assert_eq!(to_char_offset(&rope, pos(2, Column::Utf8(2))), Ok(9));
        assert_eq!(from_char_offset(&rope, 5, PositionEncoding::Utf16), pos(1, Column::Utf16(1)));
    }

    #[test]
    fn unicode_line_separators_are_not_line_breaks() {
        let rope = Rope::from_str("a\u{2028}b\u{85}c");
        assert_eq!(rope.len_lines(), 1);
    }

    #[test]
    fn end_of_file_after_a_trailing_newline_is_a_valid_position() {
        let rope = Rope::from_str("x\n");
        assert_eq!(to_char_offset(&rope, pos(1, Column::Utf16(0))), Ok(2));
        assert_eq!(to_char_offset(&rope, pos(1, Column::Utf16(7))), Ok(2));
    }

    #[test]
    fn a_line_past_the_end_is_an_error_not_a_panic() {
        let rope = Rope::from_str("x\n");
        assert_eq!(
            to_char_offset(&rope, pos(2, Column::Utf16(0))),
            Err(PositionError::LineOutOfRange { line: 2, n_lines: 2 })
        );
        assert!(to_char_offset(&rope, pos(u32::MAX, Column::Utf8(u32::MAX))).is_err());
        let empty = Rope::new();
        assert_eq!(to_char_offset(&empty, pos(0, Column::Utf8(u32::MAX))), Ok(0));
    }
}
