//! What the next-edit engine needs to know of each grammar: which nodes are scopes, names, members, types,
//! declarations, calls, parameters and literals. One table per family of grammars.

use tree_sitter::Node;

use crate::syntax::Language;

pub(super) struct Kinds {
    /// Nodes whose declarations are not seen outside them; the tree's root is always one.
    pub scopes: &'static [&'static str],
    /// Scopes whose names the functions nested in them do not see (Python's class bodies).
    pub opaque_scopes: &'static [&'static str],
    /// Whether a name may be declared again in one scope as a different variable (`let x` twice in Rust):
    /// then a scope with two declarations of a name is ambiguous.
    pub shadowing: bool,
    pub names: &'static [&'static str],
    /// Names after a dot: attributes, fields, properties.
    pub members: &'static [&'static str],
    pub types: &'static [&'static str],
    /// A name that is also a member (`Point { x }`, `{ x }`): renaming it needs more than new text.
    pub shorthands: &'static [&'static str],
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
    names: &["identifier"],
    members: &[],
    types: &[],
    shorthands: &[],
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
    optional_parameters: &["default_parameter", "typed_default_parameter"],
    spreads: &["list_splat", "dictionary_splat"],
    literals: &["string", "integer", "float", "true", "false", "none"],
    comments: &["comment"],
};

static RUST: Kinds = Kinds {
    scopes: &["source_file", "function_item", "closure_expression", "impl_item", "trait_item", "mod_item"],
    // A method is called through `self.` or `Self::`: a bare name in an impl never means it.
    opaque_scopes: &["impl_item", "trait_item"],
    shadowing: true,
    names: &["identifier"],
    members: &["field_identifier"],
    types: &["type_identifier"],
    shorthands: &["shorthand_field_initializer"],
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
    ],
    opaque_scopes: &[],
    shadowing: true,
    names: &["identifier"],
    members: &["property_identifier"],
    types: &["type_identifier"],
    shorthands: &["shorthand_property_identifier", "shorthand_property_identifier_pattern"],
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
    /// The class of a token; `None` for what is not a name, or a name too qualified to resolve here
    /// (`module::f`, a keyword argument's name).
    pub fn class(&self, node: Node) -> Option<NameClass> {
        let kind = node.kind();
        let parent = node.parent();
        let is_field = |parent_kind: &str, field: &str| {
            parent.is_some_and(|p| p.kind() == parent_kind && p.child_by_field_name(field) == Some(node))
        };
        if self.member_access.iter().any(|(access, field)| is_field(access, field)) {
            return Some(NameClass::Member);
        }
        if is_field("keyword_argument", "name") || is_field("scoped_identifier", "name") {
            return None;
        }
        if self.names.contains(&kind) {
            Some(NameClass::Name)
        } else if self.members.contains(&kind) {
            Some(NameClass::Member)
        } else if self.types.contains(&kind) {
            Some(NameClass::Type)
        } else {
            None
        }
    }

    /// Whether `node` (a name) declares itself, by its place in its parent or an import around it.
    pub fn declares(&self, node: Node) -> bool {
        let Some(parent) = node.parent() else { return false };
        let by_place = self.declarations.iter().any(|(kind, field)| {
            parent.kind() == *kind && (field.is_empty() || parent.child_by_field_name(field) == Some(node))
        });
        by_place || std::iter::successors(Some(parent), Node::parent).take(4).any(|n| self.imports.contains(&n.kind()))
    }

    /// Whether `node` (a member or type) is where its member or type is declared.
    pub fn declares_member(&self, node: Node) -> bool {
        node.parent().is_some_and(|parent| {
            self.member_declarations
                .iter()
                .any(|(kind, field)| parent.kind() == *kind && parent.child_by_field_name(field) == Some(node))
        })
    }

    pub fn is_scope(&self, node: Node) -> bool {
        node.parent().is_none() || self.scopes.contains(&node.kind())
    }

    /// The scope a declaration binds in: a function's or class's name binds around it, anything else in the
    /// scope it is in.
    pub fn declaring_scope<'t>(&self, declaration: Node<'t>) -> Option<Node<'t>> {
        let parent = declaration.parent()?;
        let start = if self.definitions.contains(&parent.kind()) { parent.parent()? } else { parent };
        std::iter::successors(Some(start), Node::parent).find(|n| self.is_scope(*n))
    }

    /// The scope among `scopes` (those declaring the name) whose declaration `node` (a name token) means:
    /// a declaration's own scope, else the innermost around it, as lookup goes (a function nested in a class
    /// body does not see the class's names). `None`: declared nowhere it can see.
    pub fn binding<'t>(&self, node: Node<'t>, scopes: &[Node<'t>]) -> Option<Node<'t>> {
        if self.declares(node) {
            return self.declaring_scope(node).filter(|scope| scopes.contains(scope));
        }
        let mut in_function = false;
        for ancestor in std::iter::successors(node.parent(), Node::parent) {
            if !self.is_scope(ancestor) {
                continue;
            }
            let opaque = self.opaque_scopes.contains(&ancestor.kind());
            if scopes.contains(&ancestor) && !(opaque && in_function) {
                return Some(ancestor);
            }
            in_function |= !opaque;
        }
        None
    }

    /// The scopes that declare `name` in the tree under `root` (one per declaration).
    pub fn declaring_scopes<'t>(&self, root: Node<'t>, rope: &ropey::Rope, name: &str) -> Vec<Node<'t>> {
        super::nodes(root, |n| {
            n.child_count() == 0 && self.names.contains(&n.kind()) && super::has_text(rope, n, name) && self.declares(n)
        })
        .into_iter()
        .filter_map(|n| self.declaring_scope(n))
        .collect()
    }

    /// The argument (or parameter) nodes of a list, comments left out.
    pub fn items<'t>(&self, list: Node<'t>) -> Vec<Node<'t>> {
        let mut cursor = list.walk();
        list.named_children(&mut cursor).filter(|n| !self.comments.contains(&n.kind())).collect()
    }
}
