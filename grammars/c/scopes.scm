(function_definition body: (_) @body) @scope
(struct_specifier body: (_) @body) @scope
