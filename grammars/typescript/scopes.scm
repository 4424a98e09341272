(function_declaration body: (_) @body) @scope
(generator_function_declaration body: (_) @body) @scope
(class_declaration body: (_) @body) @scope
(abstract_class_declaration body: (_) @body) @scope
(interface_declaration body: (_) @body) @scope
(method_definition body: (_) @body) @scope
