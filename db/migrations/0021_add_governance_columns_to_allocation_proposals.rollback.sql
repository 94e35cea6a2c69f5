-- Undoing 0021 means dropping the constraints it added; no client predates them.
-- Removes only what 0021 added (senate.schema_registry): the constraints and columns it
-- created. A column the deployment already had (resource_type, decision_note, ...) stays,
-- with its data and comment; so does a constraint of the same name the deployment had.
CALL senate.release('0021');
