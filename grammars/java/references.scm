(identifier) @reference
(type_identifier) @reference
