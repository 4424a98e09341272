//! Changed calls and signatures. An edit inside a call's arguments that replaced, added or removed one
//! argument is carried to the other calls of the same callee that passed the same; an edit inside a
//! function's parameters that removed one removes that argument from its calls (in every open document),
//! and one that added a parameter callers must pass points at them.

use std::ops::Range;

use ropey::Rope;
use tree_sitter::{Node, Tree};

use super::kinds::{Kinds, NameClass, Scan};
use super::{ByteEdit, Change, NextEditKind, OpenDocument, Proposals, has_text, nodes};
use crate::syntax;

pub(super) fn propose<'a>(change: &Change, key: &str, others: &[OpenDocument<'a>]) -> Proposals<'a> {
    let kinds = change.kinds;
    let is_arguments = |n: Node| {
        n.parent().is_some_and(|p| kinds.calls.contains(&p.kind()) && p.child_by_field_name("arguments") == Some(n))
    };
    let is_parameters = |n: Node| {
        n.parent().is_some_and(|p| kinds.function_name(p).is_some() && p.child_by_field_name("parameters") == Some(n))
    };
    // A list half typed (`f(a, `) says nothing yet about the change.
    let lists = |is_list: &dyn Fn(Node) -> bool| {
        let new = enclosing(change.tree, &change.new_bytes, is_list)?;
        let old = enclosing(&change.old_tree, &change.old_bytes, is_list)?;
        (new.start_byte() == old.start_byte() && !new.has_error() && !old.has_error()).then_some((old, new))
    };
    if let Some((old, new)) = lists(&is_arguments) {
        return arguments(change, old, new);
    }
    if let Some((old, new)) = lists(&is_parameters) {
        return signature(change, key, others, old, new);
    }
    Proposals::default()
}

/// The innermost node around `bytes` that `is_list` takes.
fn enclosing<'t>(tree: &'t Tree, bytes: &Range<usize>, is_list: &dyn Fn(Node) -> bool) -> Option<Node<'t>> {
    let node = tree.root_node().descendant_for_byte_range(bytes.start, bytes.end)?;
    std::iter::successors(Some(node), Node::parent).find(|n| is_list(*n))
}

/// How a list of arguments or parameters changed: one item replaced, inserted or removed, at an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListChange {
    Replace(usize),
    Insert(usize),
    Remove(usize),
}

fn list_change(old: &[String], new: &[String]) -> Option<ListChange> {
    let n_same_prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let k = n_same_prefix;
    if old.len() == new.len() {
        (k < old.len() && old[k + 1..] == new[k + 1..]).then_some(ListChange::Replace(k))
    } else if new.len() == old.len() + 1 {
        (old[k..] == new[k + 1..]).then_some(ListChange::Insert(k))
    } else if old.len() == new.len() + 1 {
        (old[k + 1..] == new[k..]).then_some(ListChange::Remove(k))
    } else {
        None
    }
}

fn texts(rope: &Rope, items: &[Node]) -> Vec<String> {
    items.iter().map(|n| syntax::text(rope, *n)).collect()
}

/// How many functions named `name` the tree defines.
fn n_definitions(kinds: &Kinds, rope: &Rope, tree: &Tree, name: &str) -> usize {
    nodes(tree.root_node(), |n| kinds.function_name(n).is_some_and(|f| has_text(rope, f, name))).len()
}

/// A value too common to say which calls mean the same by it.
fn commonplace(literal: &str) -> bool {
    const WORDS: &[&str] = &["True", "False", "None", "true", "false", "null", "undefined", "\"\"", "''"];
    literal.parse::<i64>().is_ok_and(|n| n.abs() <= 10) || WORDS.contains(&literal)
}

/// The callee of a call: its `function` or `constructor` field.
fn callee(call: Node) -> Option<Node> {
    call.child_by_field_name("function").or_else(|| call.child_by_field_name("constructor"))
}

/// The other calls (in `rope`'s tree) with the callee text of the edited call, which carry the same change
/// where they passed what it passed.
fn arguments<'a>(change: &Change, old_list: Node, new_list: Node) -> Proposals<'a> {
    let kinds = change.kinds;
    let old_items = kinds.items(old_list);
    let new_items = kinds.items(new_list);
    let old = texts(&change.old_rope, &old_items);
    let new = texts(change.rope, &new_items);
    let (Some(how), Some(call)) = (list_change(&old, &new), new_list.parent()) else { return Proposals::default() };
    let Some(callee_text) = callee(call).map(|c| syntax::text(change.rope, c)) else { return Proposals::default() };
    if let ListChange::Replace(k) = how {
        // Small numbers, booleans and empty strings recur without meaning the same thing: passed by position
        // to a function defined elsewhere (`sample(xs, 10)`), one changed says nothing of the others.
        let positional = old_items[k].kind() != "keyword_argument";
        let own = callee(call).is_some_and(|c| kinds.names.contains(&c.kind()))
            && n_definitions(kinds, change.rope, change.tree, &callee_text) > 0;
        if positional && commonplace(&old[k]) && !own {
            return Proposals::default();
        }
    }
    let calls = nodes(change.tree.root_node(), |n| {
        kinds.calls.contains(&n.kind())
            && n != call
            && callee(n).is_some_and(|c| has_text(change.rope, c, &callee_text))
    });
    let sees = Sees::new(change, &new_items, how);
    let mut proposals = Proposals::default();
    for other in calls {
        let Some(list) = other.child_by_field_name("arguments") else { continue };
        let items = kinds.items(list);
        let passed = texts(change.rope, &items);
        let edit = match how {
            ListChange::Replace(k) if passed.len() == old.len() && passed[k] == old[k] => {
                // A keyword argument counts by its value.
                let value = old_items[k].child_by_field_name("value").unwrap_or(old_items[k]);
                let literal = kinds.literals.contains(&value.kind());
                let kind = if literal { NextEditKind::Literal } else { NextEditKind::Arguments };
                ByteEdit { bytes: items[k].byte_range(), new_text: new[k].clone(), kind }
            }
            ListChange::Insert(k) if passed == old => insert(list, &items, k, &new[k], NextEditKind::Arguments),
            ListChange::Remove(k) if passed == old => remove(list, &items, k, NextEditKind::Arguments),
            _ => continue,
        };
        if sees.at(other) {
            proposals.edits.push((None, edit));
        }
    }
    proposals
}

/// The names the changed argument now uses (`doc.id`) and the scopes declaring them: a local passed at one
/// call means nothing at another that does not see it.
struct Sees<'t> {
    scan: Scan<'t>,
    names: Vec<(Node<'t>, Vec<Node<'t>>)>,
}

impl<'t> Sees<'t> {
    fn new(change: &Change<'t>, new_items: &[Node<'t>], how: ListChange) -> Sees<'t> {
        let scan = Scan::unnoted(change.kinds);
        let (ListChange::Replace(k) | ListChange::Insert(k)) = how else { return Sees { scan, names: Vec::new() } };
        let root = change.tree.root_node();
        let names = new_items
            .get(k)
            .map(|item| nodes(*item, |n| n.child_count() == 0 && scan.class(n) == Some(NameClass::Name)))
            .unwrap_or_default()
            .into_iter()
            .map(|name| (name, scan.declaring_scopes(root, change.rope, &syntax::text(change.rope, name))))
            .collect();
        Sees { scan, names }
    }

    /// Whether `call` sees every name declared where the edit was.
    fn at(&self, call: Node<'t>) -> bool {
        self.names.iter().all(|(name, scopes)| {
            self.scan.binding(*name, scopes).is_none() || self.scan.binding(call, scopes).is_some()
        })
    }
}

/// Inserts `text` as item `k` of `list`.
fn insert(list: Node, items: &[Node], k: usize, text: &str, kind: NextEditKind) -> ByteEdit {
    let (at, new_text) = match (items.get(k), items.last()) {
        (Some(item), _) => (item.start_byte(), format!("{text}, ")),
        (None, Some(last)) => (last.end_byte(), format!(", {text}")),
        // After the opening parenthesis.
        (None, None) => (list.start_byte() + 1, text.to_owned()),
    };
    ByteEdit { bytes: at..at, new_text, kind }
}

/// Removes item `k` of `list` with the separator that goes with it.
fn remove(list: Node, items: &[Node], k: usize, kind: NextEditKind) -> ByteEdit {
    let bytes = match (k.checked_sub(1).and_then(|i| items.get(i)), items.get(k), items.get(k + 1)) {
        (_, Some(item), Some(next)) => item.start_byte()..next.start_byte(),
        (Some(previous), Some(item), None) => previous.end_byte()..item.end_byte(),
        (None, Some(item), None) => item.byte_range(),
        _ => list.end_byte()..list.end_byte(),
    };
    ByteEdit { bytes, new_text: String::new(), kind }
}

/// The edited function's calls, in this document and the others of the same language.
fn signature<'a>(
    change: &Change,
    key: &str,
    others: &[OpenDocument<'a>],
    old_list: Node,
    new_list: Node,
) -> Proposals<'a> {
    let kinds = change.kinds;
    let old_items = kinds.items(old_list);
    let new_items = kinds.items(new_list);
    let Some(function) = new_list.parent() else { return Proposals::default() };
    let Some(name) = kinds.function_name(function).map(|n| syntax::text(change.rope, n)) else {
        return Proposals::default();
    };
    let how = list_change(&texts(&change.old_rope, &old_items), &texts(change.rope, &new_items));
    let receiver = receiver_parameters(kinds, change.rope, function, &new_items);
    let method = receiver > 0 || is_method(function);
    let (arity, removed) = match how {
        Some(ListChange::Remove(k)) if k >= receiver => {
            // A parameter without a plain name (a pattern) is only ever passed by position.
            let name = parameter_name(kinds, &change.old_rope, old_items[k]).unwrap_or_default();
            (old_items.len() - receiver, Some((k - receiver, name)))
        }
        Some(ListChange::Insert(k)) if k >= receiver && !is_optional(kinds, new_items[k]) => {
            (old_items.len() - receiver, None)
        }
        _ => return Proposals::default(),
    };
    if n_definitions(kinds, change.rope, change.tree, &name) != 1 {
        return Proposals::default();
    }
    let site = CallSites { kinds, name: &name, method, arity, removed };
    let mut proposals = Proposals::default();
    site.find(change.rope, change.tree, None, &mut proposals);
    for other in others.iter().filter(|o| o.key != key) {
        let Some(syntax) = other.document.syntax() else { continue };
        // A function of that name defined there is a different one.
        let same_language = super::kinds::of(syntax.language).is_some_and(|k| std::ptr::eq(k, kinds));
        if same_language && n_definitions(kinds, &other.document.rope, &syntax.tree, &name) == 0 {
            site.find(&other.document.rope, &syntax.tree, Some(*other), &mut proposals);
        }
    }
    proposals
}

/// How many leading parameters callers do not pass: Python's `self`/`cls` in a class, Rust's `self`.
fn receiver_parameters(kinds: &Kinds, rope: &Rope, function: Node, parameters: &[Node]) -> usize {
    let Some(first) = parameters.first() else { return 0 };
    let named_receiver = kinds.names.contains(&first.kind())
        && is_method(function)
        && (has_text(rope, *first, "self") || has_text(rope, *first, "cls"));
    usize::from(first.kind() == "self_parameter" || named_receiver)
}

/// Whether a function is defined in a class, impl or trait: its calls go through a member access.
fn is_method(function: Node) -> bool {
    const OWNERS: &[&str] = &["class_definition", "class_body", "impl_item", "trait_item"];
    function.kind() == "method_definition"
        || std::iter::successors(function.parent(), Node::parent).take(2).any(|n| OWNERS.contains(&n.kind()))
}

/// The name a parameter is passed by as a keyword argument.
fn parameter_name(kinds: &Kinds, rope: &Rope, parameter: Node) -> Option<String> {
    let name = if kinds.names.contains(&parameter.kind()) {
        parameter
    } else {
        let field = parameter.child_by_field_name("name").or_else(|| parameter.child_by_field_name("pattern"));
        field.or_else(|| parameter.named_child(0)).filter(|n| kinds.names.contains(&n.kind()))?
    };
    Some(syntax::text(rope, name))
}

/// A parameter callers may leave out: it has a default.
fn is_optional(kinds: &Kinds, parameter: Node) -> bool {
    kinds.optional_parameters.contains(&parameter.kind()) || parameter.child_by_field_name("value").is_some()
}

/// The calls of one function, and what to do at each.
struct CallSites<'n> {
    kinds: &'static Kinds,
    name: &'n str,
    method: bool,
    /// Parameters callers passed before the change: a call with more positional arguments is not of it.
    arity: usize,
    /// The argument index that the change removed and the parameter's name; `None`: one was added, and
    /// calls are only pointed at.
    removed: Option<(usize, String)>,
}

impl CallSites<'_> {
    fn find<'a>(&self, rope: &Rope, tree: &Tree, doc: Option<OpenDocument<'a>>, proposals: &mut Proposals<'a>) {
        let kinds = self.kinds;
        let calls_it = |call: Node| {
            let Some(callee) = callee(call) else { return false };
            let name = if self.method {
                kinds
                    .member_access
                    .iter()
                    .find(|(kind, _)| callee.kind() == *kind)
                    .and_then(|(_, field)| callee.child_by_field_name(field))
            } else {
                Some(callee).filter(|c| kinds.names.contains(&c.kind()))
            };
            name.is_some_and(|n| has_text(rope, n, self.name))
        };
        for call in nodes(tree.root_node(), |n| kinds.calls.contains(&n.kind()) && calls_it(n)) {
            let Some(list) = call.child_by_field_name("arguments") else { continue };
            let items = kinds.items(list);
            let Some((k, parameter)) = &self.removed else {
                proposals.targets.push((doc, call.byte_range()));
                continue;
            };
            let is_keyword = |n: &Node| n.kind() == "keyword_argument";
            let by_name = |n: &Node| {
                is_keyword(n) && n.child_by_field_name("name").is_some_and(|name| has_text(rope, name, parameter))
            };
            let spread = items.iter().any(|n| kinds.spreads.contains(&n.kind()));
            let n_positional = items.iter().take_while(|n| !is_keyword(n)).count();
            let edit = match items.iter().position(by_name) {
                Some(i) if !spread => Some(i),
                // A call that stops before the parameter does not pass it.
                None if !spread && n_positional <= *k => continue,
                // Positional argument k is parameter k, whatever follows it.
                None if !spread && n_positional <= self.arity => Some(*k),
                _ => None,
            };
            match edit {
                Some(i) => proposals.edits.push((doc, remove(list, &items, i, NextEditKind::CallSite))),
                None => proposals.targets.push((doc, call.byte_range())),
            }
        }
    }
}
