//! What the next-edit engine needs to know of each grammar: which nodes are scopes, names, members, types,
//! declarations, calls, parameters and literals. One table per family of grammars.

use std::collections::HashMap;

use tree_sitter::{Node, Tree};

use crate::syntax::Language;

pub(super) struct Kinds {
    /// Nodes whose declarations are not seen outside them; the tree's root is always one.
    pub scopes: &'static [&'static str],
    /// Scopes whose names the functions nested in them do not see (Python's class bodies).
    pub opaque_scopes: &'static [&'static str],
    /// Whether a name may be declared again in one scope as a different variable (`let x` twice in Rust):
    /// then each declaration holds from its statement's end to the next one's.
    pub shadowing: bool,
    /// Loops whose variable a name's declaration may be.
    pub loops: &'static [&'static str],
    pub names: &'static [&'static str],
    /// Names after a dot: attributes, fields, properties.
    pub members: &'static [&'static str],
    pub types: &'static [&'static str],
    /// A name that is also a member (`Point { x }`, `{ x }`): renaming it needs more than new text.
    pub shorthands: &'static [&'static str],
    /// Classes (or impls): their members are used through `receiver` inside them.
    pub owners: &'static [&'static str],
    pub receiver: &'static str,
    /// Whether a member's accesses anywhere in the file are the one declaration's, when only one struct in
    /// the file declares it (Rust's fields); else only the receiver's accesses in the owner count.
    pub file_wide_members: bool,
    /// (parent kind, field) of a name that declares it; an empty field: any child of the parent.
    pub declarations: &'static [(&'static str, &'static str)],
    /// Any name under one of these (within a few levels) is declared by an import.
    pub imports: &'static [&'static str],
    /// (parent kind, field) of a member or type that declares it.
    pub member_declarations: &'static [(&'static str, &'static str)],
    /// Names of these declare a name in the scope around them, not their own.
    pub definitions: &'static [&'static str],
    /// Call kinds; their callee and arguments are the fields `function` (or `constructor`) and `arguments`.
    pub calls: &'static [&'static str],
    /// (member-access kind, the field of its member name).
    pub member_access: &'static [(&'static str, &'static str)],
    /// Function definition kinds, each with `name` and `parameters` fields.
    pub functions: &'static [&'static str],
    /// Function values with `parameters`, named by the variable they initialise (`const f = (a) => a`).
    pub function_values: &'static [&'static str],
    /// Parameters that callers may leave out.
    pub optional_parameters: &'static [&'static str],
    /// Arguments whose count is unknown (`*args`, `...rest`).
    pub spreads: &'static [&'static str],
    pub literals: &'static [&'static str],
    pub comments: &'static [&'static str],
}

static PYTHON: Kinds = Kinds {
    // Comprehensions bind their loop variables in a scope of their own.
    scopes: &[
        "module",
        "function_definition",
        "class_definition",
        "lambda",
        "list_comprehension",
        "set_comprehension",
        "dictionary_comprehension",
        "generator_expression",
    ],
    opaque_scopes: &["class_definition"],
    shadowing: false,
    loops: &["for_statement"],
    names: &["identifier"],
    members: &[],
    types: &[],
    shorthands: &[],
    owners: &["class_definition"],
    receiver: "self",
    file_wide_members: false,
    declarations: &[
        ("function_definition", "name"),
        ("class_definition", "name"),
        ("parameters", ""),
        ("lambda_parameters", ""),
        ("default_parameter", "name"),
        ("typed_parameter", ""),
        ("typed_default_parameter", "name"),
        ("assignment", "left"),
        ("for_statement", "left"),
        ("for_in_clause", "left"),
        ("pattern_list", ""),
        ("tuple_pattern", ""),
        ("as_pattern_target", ""),
        ("aliased_import", "alias"),
        ("list_splat_pattern", ""),
        ("dictionary_splat_pattern", ""),
    ],
    imports: &["import_statement", "import_from_statement"],
    member_declarations: &[],
    definitions: &["function_definition", "class_definition"],
    calls: &["call"],
    member_access: &[("attribute", "attribute")],
    functions: &["function_definition"],
    function_values: &[],
    optional_parameters: &["default_parameter", "typed_default_parameter"],
    spreads: &["list_splat", "dictionary_splat"],
    literals: &["string", "integer", "float", "true", "false", "none"],
    comments: &["comment"],
};

static RUST: Kinds = Kinds {
    // `let` binds to the end of its block; a loop's pattern, in its body.
    scopes: &[
        "source_file",
        "function_item",
        "closure_expression",
        "impl_item",
        "trait_item",
        "mod_item",
        "block",
        "for_expression",
    ],
    // A method is called through `self.` or `Self::`: a bare name in an impl never means it.
    opaque_scopes: &["impl_item", "trait_item"],
    shadowing: true,
    loops: &[],
    names: &["identifier"],
    members: &["field_identifier"],
    types: &["type_identifier"],
    shorthands: &["shorthand_field_initializer"],
    owners: &["impl_item", "trait_item"],
    receiver: "self",
    file_wide_members: true,
    declarations: &[
        ("function_item", "name"),
        ("parameter", "pattern"),
        ("let_declaration", "pattern"),
        ("closure_parameters", ""),
        ("for_expression", "pattern"),
        ("tuple_pattern", ""),
        ("const_item", "name"),
        ("static_item", "name"),
        ("use_as_clause", "alias"),
    ],
    imports: &["use_declaration"],
    member_declarations: &[
        ("field_declaration", "name"),
        ("struct_item", "name"),
        ("enum_item", "name"),
        ("trait_item", "name"),
        ("type_item", "name"),
    ],
    definitions: &["function_item"],
    calls: &["call_expression"],
    member_access: &[("field_expression", "field")],
    functions: &["function_item"],
    function_values: &[],
    optional_parameters: &[],
    spreads: &[],
    literals: &["string_literal", "integer_literal", "float_literal", "boolean_literal", "char_literal"],
    comments: &["line_comment", "block_comment"],
};

static TYPESCRIPT: Kinds = Kinds {
    scopes: &[
        "program",
        "function_declaration",
        "generator_function_declaration",
        "function_expression",
        "arrow_function",
        "method_definition",
        // `let` and `const` bind to the end of their block; a loop's variable, in its body.
        "statement_block",
        "for_statement",
        "for_in_statement",
    ],
    opaque_scopes: &[],
    shadowing: true,
    loops: &[],
    names: &["identifier"],
    members: &["property_identifier"],
    types: &["type_identifier"],
    shorthands: &["shorthand_property_identifier", "shorthand_property_identifier_pattern"],
    // An object literal's keys and other objects' properties may share a class member's name: only `this.`
    // says which.
    owners: &["class_declaration", "class", "abstract_class_declaration"],
    receiver: "this",
    file_wide_members: false,
    declarations: &[
        ("function_declaration", "name"),
        ("generator_function_declaration", "name"),
        ("class_declaration", "name"),
        ("variable_declarator", "name"),
        ("required_parameter", "pattern"),
        ("optional_parameter", "pattern"),
        ("formal_parameters", ""),
        ("assignment_pattern", "left"),
        ("arrow_function", "parameter"),
        ("array_pattern", ""),
        ("for_in_statement", "left"),
        ("catch_clause", "parameter"),
    ],
    imports: &["import_statement"],
    member_declarations: &[
        ("public_field_definition", "name"),
        ("property_signature", "name"),
        ("method_definition", "name"),
        ("method_signature", "name"),
        ("class_declaration", "name"),
        ("interface_declaration", "name"),
        ("type_alias_declaration", "name"),
    ],
    definitions: &["function_declaration", "generator_function_declaration"],
    calls: &["call_expression", "new_expression"],
    member_access: &[("member_expression", "property")],
    functions: &["function_declaration", "method_definition"],
    function_values: &["arrow_function", "function_expression"],
    optional_parameters: &["optional_parameter"],
    spreads: &["spread_element"],
    literals: &["string", "number", "true", "false", "null", "template_string"],
    comments: &["comment"],
};

/// The table for `language`; `None` for the languages next edits do not know yet.
pub(super) fn of(language: Language) -> Option<&'static Kinds> {
    match language.name() {
        "python" => Some(&PYTHON),
        "rust" => Some(&RUST),
        "javascript" | "typescript" | "tsx" => Some(&TYPESCRIPT),
        _ => None,
    }
}

/// What an identifier-like token stands for, which decides where else the same symbol can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NameClass {
    /// A variable, parameter, function or class, resolved through scopes.
    Name,
    /// An attribute, field or property after a dot.
    Member,
    Type,
}

impl Kinds {
    /// The name of a function (its own, or that of the variable a function value initialises); `None` for
    /// what is no function.
    pub fn function_name<'t>(&self, function: Node<'t>) -> Option<Node<'t>> {
        if self.functions.contains(&function.kind()) {
            return function.child_by_field_name("name");
        }
        if !self.function_values.contains(&function.kind()) {
            return None;
        }
        let declarator = function
            .parent()
            .filter(|p| p.kind() == "variable_declarator" && p.child_by_field_name("value") == Some(function))?;
        declarator.child_by_field_name("name")
    }

    /// The argument (or parameter) nodes of a list, comments left out.
    pub fn items<'t>(&self, list: Node<'t>) -> Vec<Node<'t>> {
        let mut cursor = list.walk();
        list.named_children(&mut cursor).filter(|n| !self.comments.contains(&n.kind())).collect()
    }
}

/// A tree read with its grammar's kinds, with the tokens of some texts found in one walk and the parents of
/// those tokens and their ancestors noted on the way: tree-sitter finds a parent by searching down from the
/// root, which costs as many steps as a file has top-level items.
pub(super) struct Scan<'t> {
    pub kinds: &'static Kinds,
    parents: HashMap<usize, Node<'t>>,
    /// The tokens found, in order.
    pub tokens: Vec<Node<'t>>,
}

impl<'t> Scan<'t> {
    /// Finds the tokens of `tree` whose text is one of `texts`, noting their ancestors.
    pub fn new(kinds: &'static Kinds, tree: &'t Tree, rope: &ropey::Rope, texts: &[&str]) -> Scan<'t> {
        let mut scan = Scan { kinds, parents: HashMap::new(), tokens: Vec::new() };
        let mut cursor = tree.walk();
        let mut stack: Vec<Node<'t>> = Vec::new();
        loop {
            let node = cursor.node();
            if node.child_count() == 0 && texts.iter().any(|text| super::has_text(rope, node, text)) {
                scan.tokens.push(node);
                // Up the stack until a path noted before.
                let mut child = node;
                for parent in stack.iter().rev() {
                    if scan.parents.insert(child.id(), *parent).is_some() {
                        break;
                    }
                    child = *parent;
                }
            }
            if cursor.goto_first_child() {
                stack.push(node);
                continue;
            }
            while !cursor.goto_next_sibling() {
                if !cursor.goto_parent() {
                    return scan;
                }
                stack.pop();
            }
        }
    }

    /// For a few lookups, where noting every parent would cost more than finding them.
    pub fn unnoted(kinds: &'static Kinds) -> Scan<'t> {
        Scan { kinds, parents: HashMap::new(), tokens: Vec::new() }
    }

    /// The parent of a token found or of one of their ancestors (any node's, for an unnoted scan).
    pub fn parent(&self, node: Node<'t>) -> Option<Node<'t>> {
        match self.parents.get(&node.id()) {
            Some(parent) => Some(*parent),
            None if self.parents.is_empty() => node.parent(),
            None => None,
        }
    }

    /// `node`, then its ancestors.
    pub fn up(&self, node: Node<'t>) -> impl Iterator<Item = Node<'t>> + '_ {
        std::iter::successors(Some(node), |n| self.parent(*n))
    }

    /// The class of a token; `None` for what is not a name, or a name too qualified to resolve here
    /// (`module::f`, a keyword argument's name).
    pub fn class(&self, node: Node<'t>) -> Option<NameClass> {
        let kinds = self.kinds;
        let kind = node.kind();
        let parent = self.parent(node);
        let is_field = |parent_kind: &str, field: &str| {
            parent.is_some_and(|p| p.kind() == parent_kind && p.child_by_field_name(field) == Some(node))
        };
        // Macro arguments are bare tokens: there a name after a dot is a field.
        let after_dot = parent.is_some_and(|p| p.kind() == "token_tree")
            && node.prev_sibling().is_some_and(|previous| previous.kind() == ".");
        if after_dot || kinds.member_access.iter().any(|(access, field)| is_field(access, field)) {
            return Some(NameClass::Member);
        }
        if is_field("keyword_argument", "name") || is_field("scoped_identifier", "name") {
            return None;
        }
        if kinds.names.contains(&kind) {
            Some(NameClass::Name)
        } else if kinds.members.contains(&kind) {
            Some(NameClass::Member)
        } else if kinds.types.contains(&kind) {
            Some(NameClass::Type)
        } else {
            None
        }
    }

    /// Whether `node` (a name) declares itself, by its place in its parent or an import around it.
    pub fn declares(&self, node: Node<'t>) -> bool {
        let Some(parent) = self.parent(node) else { return false };
        let by_place = self.kinds.declarations.iter().any(|(kind, field)| {
            parent.kind() == *kind && (field.is_empty() || parent.child_by_field_name(field) == Some(node))
        });
        by_place || self.up(parent).take(4).any(|n| self.kinds.imports.contains(&n.kind()))
    }

    /// Whether `node` (a member or type) is where its member or type is declared.
    pub fn declares_member(&self, node: Node<'t>) -> bool {
        self.parent(node).is_some_and(|parent| {
            self.kinds
                .member_declarations
                .iter()
                .any(|(kind, field)| parent.kind() == *kind && parent.child_by_field_name(field) == Some(node))
        })
    }

    pub fn is_scope(&self, node: Node<'t>) -> bool {
        self.kinds.scopes.contains(&node.kind()) || self.parent(node).is_none()
    }

    /// The scope a declaration binds in: a function's or class's name binds around it, anything else in the
    /// scope it is in.
    pub fn declaring_scope(&self, declaration: Node<'t>) -> Option<Node<'t>> {
        let parent = self.parent(declaration)?;
        let start = if self.kinds.definitions.contains(&parent.kind()) { self.parent(parent)? } else { parent };
        self.up(start).find(|n| self.is_scope(*n))
    }

    /// The scope among `scopes` (those declaring the name) whose declaration `node` (a name token) means:
    /// a declaration's own scope, else the innermost around it, as lookup goes (a function nested in a class
    /// body does not see the class's names). `None`: declared nowhere it can see.
    pub fn binding(&self, node: Node<'t>, scopes: &[Node<'t>]) -> Option<Node<'t>> {
        if self.declares(node) {
            return self.declaring_scope(node).filter(|scope| scopes.contains(scope));
        }
        let mut in_function = false;
        for ancestor in self.up(node).skip(1) {
            if !self.is_scope(ancestor) {
                continue;
            }
            let opaque = self.kinds.opaque_scopes.contains(&ancestor.kind());
            if scopes.contains(&ancestor) && !(opaque && in_function) {
                return Some(ancestor);
            }
            in_function |= !opaque;
        }
        None
    }

    /// The scopes that declare `name` in the tree under `root` (one per declaration).
    pub fn declaring_scopes(&self, root: Node<'t>, rope: &ropey::Rope, name: &str) -> Vec<Node<'t>> {
        super::nodes(root, |n| {
            n.child_count() == 0
                && self.kinds.names.contains(&n.kind())
                && super::has_text(rope, n, name)
                && self.declares(n)
        })
        .into_iter()
        .filter_map(|n| self.declaring_scope(n))
        .collect()
    }
}
