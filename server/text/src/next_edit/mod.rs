//! Next edits without a model: from a document's last logical edit (`documents::history`) and its syntax
//! tree, the same change at the other places it belongs: a renamed name's other uses in its scope
//! (`rename.rs`), a changed argument at the other calls that passed the same (`calls.rs`), the calls of a
//! function whose parameters changed, in the open documents.
//!
//! Invariants: pure and synchronous (a snapshot in, plain data out); every proposal is an exact edit of
//! text as it is now; an edit inside what the edit before it wrote proposes nothing; anything ambiguous (two declarations a name could mean, a callee defined twice, an
//! edit that could be either of two things) proposes nothing: a wrong proposal costs more than a missing one.

mod calls;
mod kinds;
mod rename;
#[cfg(test)]
mod tests;

use std::ops::Range;

use ropey::Rope;
use tree_sitter::{Node, Tree};

use crate::documents::Document;
use crate::syntax::{self, Syntax};
use kinds::Kinds;

/// An open document and the key (its URI) that proposals name it by.
#[derive(Clone, Copy)]
pub struct OpenDocument<'a> {
    pub key: &'a str,
    pub document: &'a Document,
}

/// What a proposal carries on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NextEditKind {
    /// A renamed name, at its other uses in the same scope.
    Rename,
    /// A changed literal argument, at the other calls that passed the same literal there.
    Literal,
    /// A changed argument list, at the other calls of the function that passed the same.
    Arguments,
    /// A function's changed parameters, at its calls.
    CallSite,
}

/// One proposed edit: replace chars `range` of document `key` (as it is now) with `new_text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextEdit {
    pub key: String,
    pub range: Range<usize>,
    pub new_text: String,
    pub kind: NextEditKind,
}

/// A place the user will likely edit next but whose edit is not known exactly: the call of a function that
/// gained a parameter. Chars `range` of document `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub key: String,
    pub range: Range<usize>,
}

/// The proposals, nearest the cursor first, then those in other documents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NextEdits {
    pub edits: Vec<NextEdit>,
    pub targets: Vec<Target>,
}

/// The next edits after `current`'s last edit, with the cursor at char `cursor`; `others` are the other open
/// documents, where the calls of a changed function are looked for. Nothing when the document's tree lags
/// its text, its last edit is not the latest change, or its language is not known here.
pub fn next_edits(current: OpenDocument, cursor: usize, others: &[OpenDocument]) -> NextEdits {
    let Some(change) = Change::last(current.document) else { return NextEdits::default() };
    let cursor_byte = change.rope.try_char_to_byte(cursor).unwrap_or(change.rope.len_bytes());
    let mut out = match rename::propose(&change) {
        Some(sites) => Proposals { edits: sites, targets: Vec::new() },
        None => calls::propose(&change, current.key, others),
    };
    out.edits.sort_by_key(|(doc, edit)| (doc.is_some(), edit.bytes.start.abs_diff(cursor_byte)));
    out.targets.sort_by_key(|(doc, bytes)| (doc.is_some(), bytes.start.abs_diff(cursor_byte)));
    let key = |doc: Option<&OpenDocument>| doc.map_or(current.key, |doc| doc.key).to_owned();
    let chars = |doc: Option<&OpenDocument>, bytes: &Range<usize>| {
        let rope = doc.map_or(change.rope, |doc| &doc.document.rope);
        rope.byte_to_char(bytes.start)..rope.byte_to_char(bytes.end)
    };
    NextEdits {
        edits: out
            .edits
            .iter()
            .map(|(doc, edit)| NextEdit {
                key: key(doc.as_ref()),
                range: chars(doc.as_ref(), &edit.bytes),
                new_text: edit.new_text.clone(),
                kind: edit.kind,
            })
            .collect(),
        targets: out
            .targets
            .iter()
            .map(|(doc, bytes)| Target { key: key(doc.as_ref()), range: chars(doc.as_ref(), bytes) })
            .collect(),
    }
}

/// An edit in bytes of the document it is for.
#[derive(Debug, Clone)]
struct ByteEdit {
    bytes: Range<usize>,
    new_text: String,
    kind: NextEditKind,
}

/// Edits and targets, each in the current document (`None`) or another one.
#[derive(Default)]
struct Proposals<'a> {
    edits: Vec<(Option<OpenDocument<'a>>, ByteEdit)>,
    targets: Vec<(Option<OpenDocument<'a>>, Range<usize>)>,
}

/// The document's last edit, with the text and tree from before it, which it is compared with.
struct Change<'a> {
    kinds: &'static Kinds,
    rope: &'a Rope,
    tree: &'a Tree,
    /// Where the edit's new text is, in bytes of `rope`.
    new_bytes: Range<usize>,
    old_rope: Rope,
    old_tree: Tree,
    /// Where the edit's old text was, in bytes of `old_rope`.
    old_bytes: Range<usize>,
    /// The edits before the last one, as (old text, new text), latest first: a rename carried on.
    earlier: Vec<(&'a str, &'a str)>,
}

impl<'a> Change<'a> {
    fn last(doc: &'a Document) -> Option<Change<'a>> {
        let edit = doc.history.last().filter(|edit| edit.version == doc.version)?;
        // An edit inside what the edit before it wrote is the user still writing new code (a pasted line
        // being adapted), not changing code that is there.
        let previous = doc.history.edits().rev().nth(1);
        if previous.is_some_and(|p| p.start <= edit.start && edit.old_range().end <= p.new_range().end) {
            return None;
        }
        let (old, new) = (edit.old.as_str()?, edit.new.as_str()?);
        let syntax = doc.syntax()?;
        let kinds = kinds::of(syntax.language)?;
        let rope = &doc.rope;
        let written = edit.new_range();
        if written.end > rope.len_chars() || rope.slice(written.clone()) != new {
            return None;
        }
        // The text before the edit, parsed incrementally from the tree after it.
        let mut old_rope = rope.clone();
        old_rope.remove(written.clone());
        old_rope.insert(written.start, old);
        let mut old_syntax: Syntax = syntax.clone();
        old_syntax.edit(&syntax::input_edit(rope, written.start, written.end, old));
        let old_tree = old_syntax.reparse(&old_rope)?.tree;
        let start_byte = rope.char_to_byte(written.start);
        let earlier =
            doc.history.edits().rev().skip(1).filter_map(|e| Some((e.old.as_str()?, e.new.as_str()?))).collect();
        Some(Change {
            kinds,
            rope,
            tree: &syntax.tree,
            new_bytes: start_byte..rope.char_to_byte(written.end),
            old_rope,
            old_tree,
            old_bytes: start_byte..start_byte + old.len(),
            earlier,
        })
    }
}

/// The token (a leaf) that holds all of `bytes`; an empty range between two tokens touches both, and the
/// one `prefer` takes wins (`total|:` typed on is the name, not the colon).
fn token_at<'t>(tree: &'t Tree, bytes: &Range<usize>, prefer: impl Fn(Node<'t>) -> bool) -> Option<Node<'t>> {
    let root = tree.root_node();
    let holds = |n: &Node| n.child_count() == 0 && n.start_byte() <= bytes.start && bytes.end <= n.end_byte();
    let at = root.descendant_for_byte_range(bytes.start, bytes.end).filter(holds);
    let before = bytes
        .start
        .checked_sub(1)
        .filter(|_| bytes.is_empty())
        .and_then(|before| root.descendant_for_byte_range(before, bytes.start))
        .filter(holds);
    [at, before].into_iter().flatten().find(|n| prefer(*n)).or(at).or(before)
}

/// Every node of `root`'s tree, in order, that `keep` keeps.
fn nodes<'t>(root: Node<'t>, mut keep: impl FnMut(Node<'t>) -> bool) -> Vec<Node<'t>> {
    let mut found = Vec::new();
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        if keep(node) {
            found.push(node);
        }
        if cursor.goto_first_child() || cursor.goto_next_sibling() {
            continue;
        }
        loop {
            if !cursor.goto_parent() {
                return found;
            }
            if cursor.goto_next_sibling() {
                break;
            }
        }
    }
}

/// Whether `node`'s text in `rope` is `text`, without copying it.
fn has_text(rope: &Rope, node: Node, text: &str) -> bool {
    node.byte_range().len() == text.len() && rope.get_byte_slice(node.byte_range()).is_some_and(|s| s == text)
}
