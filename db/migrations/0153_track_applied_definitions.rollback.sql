-- Removes what 0153 created. The functions and views the definitions files applied stay as
-- they are (the versioned migrations' rollbacks remove those they created).
SET lock_timeout = '5s';
DROP FUNCTION IF EXISTS senate.apply_definition(text, text, text);
DROP FUNCTION IF EXISTS senate.definition_fingerprint(text);
DROP FUNCTION IF EXISTS senate.resolve_definition_identity(text);
DROP TABLE IF EXISTS senate.applied_definitions;
