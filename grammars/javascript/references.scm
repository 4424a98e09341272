(identifier) @reference
(property_identifier) @reference
