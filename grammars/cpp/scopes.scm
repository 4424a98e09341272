(function_definition body: (_) @body) @scope
(class_specifier body: (_) @body) @scope
(struct_specifier body: (_) @body) @scope
(namespace_definition body: (_) @body) @scope
