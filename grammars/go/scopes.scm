(function_declaration body: (_) @body) @scope
(method_declaration body: (_) @body) @scope
