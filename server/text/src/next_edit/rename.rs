//! A renamed name: the last edit turned one name token into another of the same class. Its other uses are
//! those of the same symbol, found through the tree's scopes and declarations, never by text alone.

use tree_sitter::Node;

use super::kinds::{NameClass, Scan};
use super::{ByteEdit, Change, NextEditKind, OpenDocument, has_text, token_at};
use crate::syntax;

/// `None` when the edit is no rename (then it may be something else); `Some` with the other uses, or with
/// nothing when which uses belong to the symbol is ambiguous.
pub(super) fn propose<'a>(change: &Change) -> Option<Vec<(Option<OpenDocument<'a>>, ByteEdit)>> {
    let quick = Scan::unnoted(change.kinds);
    let old_token = token_at(&change.old_tree, &change.old_bytes, |n| quick.class(n).is_some())?;
    let site = token_at(change.tree, &change.new_bytes, |n| quick.class(n).is_some())?;
    let class = quick.class(site)?;
    if old_token.start_byte() != site.start_byte() || quick.class(old_token) != Some(class) {
        return None;
    }
    let old = syntax::text(&change.old_rope, old_token);
    let new = syntax::text(change.rope, site);
    if old == new || old.is_empty() || new.is_empty() {
        return None;
    }
    let rename = Rename {
        change,
        scan: Scan::new(change.kinds, change.tree, change.rope, &[&old, &new]),
        site,
        old: &old,
        new: &new,
        carried_on: change.earlier.iter().any(|earlier| renames(earlier, &old, &new)),
    };
    let sites = match class {
        NameClass::Name => rename.names()?,
        NameClass::Member => rename.members(),
        NameClass::Type => rename.types(),
    };
    Some(sites.into_iter().map(|node| (None, rename.edit(node, class))).collect())
}

/// Whether the edit `(from, to)` turns `old` into `new` somewhere in it: `("", "_price")` turns `total`
/// into `total_price`.
fn renames((from, to): &(&str, &str), old: &str, new: &str) -> bool {
    old.char_indices().map(|(i, _)| i).chain([old.len()]).any(|i| {
        old[i..].starts_with(from) && new.len() + from.len() == old.len() + to.len() && {
            let (head, tail) = (&old[..i], &old[i + from.len()..]);
            new.starts_with(head) && new[head.len()..].starts_with(to) && new.ends_with(tail)
        }
    })
}

struct Rename<'c, 'a> {
    change: &'c Change<'a>,
    scan: Scan<'a>,
    /// The renamed token, in the tree after the edit.
    site: Node<'a>,
    old: &'c str,
    new: &'c str,
    /// An earlier edit made the same rename: the user is carrying one out, so `new` being declared already
    /// is that rename's doing, not a sign the edit points a use at another symbol.
    carried_on: bool,
}

impl<'a> Rename<'_, 'a> {
    /// The tokens with `text` that `keep` keeps, the site left out.
    fn tokens(&self, text: &str, keep: impl Fn(Node<'a>) -> bool) -> Vec<Node<'a>> {
        let rope = self.change.rope;
        self.scan.tokens.iter().copied().filter(|n| *n != self.site && has_text(rope, *n, text) && keep(*n)).collect()
    }

    fn class_is(&self, node: Node, class: NameClass) -> bool {
        self.scan.class(node) == Some(class)
    }

    fn is_shorthand(&self, node: Node) -> bool {
        let shorthands = self.change.kinds.shorthands;
        shorthands.contains(&node.kind()) || self.scan.parent(node).is_some_and(|p| shorthands.contains(&p.kind()))
    }

    /// Uses of a variable, parameter, function or class: the `old` names bound by the scope that binds
    /// the site. `None` when the edit points a use at another, existing symbol instead.
    fn names(&self) -> Option<Vec<Node<'a>>> {
        let kinds = self.change.kinds;
        let olds = self.tokens(self.old, |n| self.class_is(n, NameClass::Name) || self.is_shorthand(n));
        let news = self.tokens(self.new, |n| self.class_is(n, NameClass::Name));
        let declared = |tokens: &[Node<'a>]| -> Vec<Node<'a>> {
            tokens.iter().filter(|n| self.scan.declares(**n)).filter_map(|n| self.scan.declaring_scope(*n)).collect()
        };
        let old_scopes = declared(&olds);
        let new_scopes = declared(&news);
        if !self.carried_on && self.scan.binding(self.site, &new_scopes).is_some() {
            return None;
        }
        // The site counts as the symbol's either name, so a renamed declaration still binds its uses.
        let mut scopes = old_scopes;
        scopes.extend(new_scopes.iter().copied().filter(|_| self.carried_on));
        scopes.extend(Some(self.site).filter(|n| self.scan.declares(*n)).and_then(|n| self.scan.declaring_scope(n)));
        let Some(scope) = self.scan.binding(self.site, &scopes) else { return Some(Vec::new()) };
        if kinds.opaque_scopes.contains(&scope.kind()) && self.scan.declares(self.site) {
            // A method (or class attribute): used through `self.` in its class.
            return Some(self.self_members(scope));
        }
        let n_declarations = scopes.iter().filter(|s| **s == scope).count();
        let region =
            if kinds.shadowing && n_declarations > 1 { Some(self.shadowing_region(&olds, scope)?) } else { None };
        // Two loops over one name are one variable to Python, two to whoever wrote them.
        let in_loop = |n: &Node<'a>| {
            self.scan.declares(*n)
                && self.scan.parent(*n).is_some_and(|p| kinds.loops.contains(&p.kind()))
                && self.scan.declaring_scope(*n) == Some(scope)
        };
        if olds.iter().chain([&self.site]).filter(|n| in_loop(n)).count() > 1 {
            return Some(Vec::new());
        }
        let in_region = |n: &Node<'a>| {
            region.as_ref().is_none_or(|(region, declaration)| {
                Some(*n) == *declaration || (region.contains(&n.start_byte()) && !self.scan.declares(*n))
            })
        };
        Some(olds.into_iter().filter(|n| self.scan.binding(*n, &scopes) == Some(scope) && in_region(n)).collect())
    }

    /// Where the declaration the site means holds, in a scope that declares the name more than once
    /// (`let line = line.trim();`): from the end of its statement to the end of the next declaring statement
    /// (whose own value still sees it); and that declaration, when it is not the site. `None` when that
    /// cannot be told.
    fn shadowing_region(
        &self,
        olds: &[Node<'a>],
        scope: Node<'a>,
    ) -> Option<(std::ops::Range<usize>, Option<Node<'a>>)> {
        let statement = |n: Node<'a>| self.scan.up(n).find(|a| self.scan.parent(*a) == Some(scope));
        let mut declarations: Vec<(usize, Node<'a>)> = olds
            .iter()
            .chain([&self.site])
            .filter(|n| self.scan.declares(**n) && self.scan.declaring_scope(**n) == Some(scope))
            .map(|n| statement(*n).map(|s| (s.end_byte(), *n)))
            .collect::<Option<_>>()?;
        declarations.sort_by_key(|(end, _)| *end);
        let site = self.site.start_byte();
        let (start, declaration) = if self.scan.declares(self.site) {
            (statement(self.site)?.end_byte(), None)
        } else {
            let (end, declaration) = declarations.iter().rev().find(|(end, _)| *end <= site)?;
            (*end, Some(*declaration))
        };
        let end = declarations.iter().map(|(end, _)| *end).find(|end| *end > start).unwrap_or(usize::MAX);
        Some((start..end, declaration))
    }

    /// The edit at a use: the new name, or for a shorthand (`{ name }`) the key it stood for kept beside it.
    fn edit(&self, node: Node, class: NameClass) -> ByteEdit {
        let new_text = match (self.is_shorthand(node), class) {
            (false, _) => self.new.to_owned(),
            (true, NameClass::Member) => format!("{}: {}", self.new, self.old),
            (true, _) => format!("{}: {}", self.old, self.new),
        };
        ByteEdit { bytes: node.byte_range(), new_text, kind: NextEditKind::Rename }
    }

    /// Uses of an attribute, field or property: `self.x` (`this.x`) within the class; for Rust's fields,
    /// every access in the file, when exactly one struct in the file declares the field.
    fn members(&self) -> Vec<Node<'a>> {
        let kinds = self.change.kinds;
        if kinds.file_wide_members {
            return self.declared_once(NameClass::Member);
        }
        let class = self.owner(self.site).filter(|_| self.on_self(self.site) || self.scan.declares_member(self.site));
        class.map(|class| self.self_members(class)).unwrap_or_default()
    }

    /// The class or impl around `node`.
    fn owner(&self, node: Node<'a>) -> Option<Node<'a>> {
        let owners = self.change.kinds.owners;
        self.scan.up(node).find(|a| owners.contains(&a.kind()))
    }

    /// Whether a member is accessed on `self` (`this`).
    fn on_self(&self, member: Node<'a>) -> bool {
        let object = self
            .scan
            .parent(member)
            .and_then(|p| p.child_by_field_name("object").or_else(|| p.child_by_field_name("value")));
        object.is_some_and(|o| has_text(self.change.rope, o, self.change.kinds.receiver))
    }

    /// The `self.old` (`this.old`) accesses in `owner` (a class or impl).
    fn self_members(&self, owner: Node<'a>) -> Vec<Node<'a>> {
        self.tokens(self.old, |n| {
            self.class_is(n, NameClass::Member) && self.on_self(n) && self.owner(n) == Some(owner)
        })
    }

    /// Uses of a type: its type names, and plain names of it (`Point::new`, `new Point()`) not bound locally.
    fn types(&self) -> Vec<Node<'a>> {
        let mut uses = self.declared_once(NameClass::Type);
        if uses.is_empty() {
            return uses;
        }
        let locals: Vec<Node<'a>> = self
            .tokens(self.old, |n| self.class_is(n, NameClass::Name) && self.scan.declares(n))
            .into_iter()
            .filter_map(|n| self.scan.declaring_scope(n))
            .collect();
        uses.extend(
            self.tokens(self.old, |n| self.class_is(n, NameClass::Name) && self.scan.binding(n, &locals).is_none()),
        );
        uses.sort_by_key(|n| n.start_byte());
        uses
    }

    /// The `class` tokens named `old` (and for a member, its shorthands), when one declaration in the file
    /// declares that name (the site, or another token; with a rename carried on, one already renamed); else
    /// none.
    fn declared_once(&self, class: NameClass) -> Vec<Node<'a>> {
        let member = class == NameClass::Member;
        let uses = self.tokens(self.old, |n| self.class_is(n, class) || (member && self.is_shorthand(n)));
        let mut n_declarations = uses.iter().filter(|n| self.scan.declares_member(**n)).count();
        n_declarations += usize::from(self.scan.declares_member(self.site));
        if self.carried_on {
            n_declarations += self.tokens(self.new, |n| self.class_is(n, class) && self.scan.declares_member(n)).len();
        }
        if n_declarations != 1 { Vec::new() } else { uses }
    }
}
