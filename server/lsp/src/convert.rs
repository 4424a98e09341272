//! Conversions between LSP types and nib's plain types: the only place that
//! knows both.

use ropey::Rope;
use tower_lsp_server::ls_types::{self as lsp, PositionEncodingKind};

use nib_text::documents::{self, Column, PositionEncoding, TextChange};

/// UTF-8 when the client offers it (no conversion at all), else LSP's default UTF-16.
pub fn negotiate_encoding(params: &lsp::InitializeParams) -> PositionEncoding {
    let offered = params.capabilities.general.as_ref().and_then(|g| g.position_encodings.as_ref());
    if offered.is_some_and(|kinds| kinds.contains(&PositionEncodingKind::UTF8)) {
        PositionEncoding::Utf8
    } else {
        PositionEncoding::Utf16
    }
}

pub fn encoding_kind(encoding: PositionEncoding) -> PositionEncodingKind {
    match encoding {
        PositionEncoding::Utf8 => PositionEncodingKind::UTF8,
        PositionEncoding::Utf16 => PositionEncodingKind::UTF16,
    }
}

pub fn position(pos: lsp::Position, encoding: PositionEncoding) -> documents::Position {
    documents::Position { line: pos.line, column: Column::new(encoding, pos.character) }
}

pub fn changes(events: Vec<lsp::TextDocumentContentChangeEvent>, encoding: PositionEncoding) -> Vec<TextChange> {
    events
        .into_iter()
        .map(|e| TextChange {
            range: e.range.map(|r| (position(r.start, encoding), position(r.end, encoding))),
            text: e.text,
        })
        .collect()
}

pub fn to_position(rope: &Rope, char_offset: usize, encoding: PositionEncoding) -> lsp::Position {
    let pos = documents::position::from_char_offset(rope, char_offset, encoding);
    let character = match pos.column {
        Column::Utf8(units) | Column::Utf16(units) => units,
    };
    lsp::Position { line: pos.line, character }
}

pub fn to_range(rope: &Rope, start: usize, end: usize, encoding: PositionEncoding) -> lsp::Range {
    lsp::Range { start: to_position(rope, start, encoding), end: to_position(rope, end, encoding) }
}

/// The file path of a `file:` URI (`nib-text`'s reading, the one document keys get); `None` for other schemes.
pub fn file_path(uri: &lsp::Uri) -> Option<std::path::PathBuf> {
    nib_text::uri::to_path(uri.as_str())
}
