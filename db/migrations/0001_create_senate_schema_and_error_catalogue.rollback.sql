-- Removes only what 0001 added.
DROP FUNCTION IF EXISTS senate.raise_error(text, text, text, text);
DROP TABLE IF EXISTS senate.error_codes;
DROP SCHEMA IF EXISTS senate;
