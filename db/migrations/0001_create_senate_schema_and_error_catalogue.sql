-- Why: every later migration needs a home for internal machinery (trigger
-- functions, rollups, helpers) that is not part of the public contract, and a
-- documented catalogue of the SQLSTATEs this project raises, so that callers
-- can map errors by code and analysts can look a code up in psql.
--
-- Contract objects (tables, views, functions that services and analysts use)
-- live in "public", where the deployed consumers already find resource_usage
-- and allocation_proposals. Internal machinery lives in schema "senate".
SET lock_timeout = '5s';

CREATE SCHEMA IF NOT EXISTS senate;
COMMENT ON SCHEMA senate IS
  'Internal machinery of the Senate economics layer (trigger functions, rollups, helpers). '
  'Not a contract: services use the views and functions in public.';

CREATE TABLE IF NOT EXISTS senate.error_codes (
    sqlstate    char(5) PRIMARY KEY CHECK (sqlstate ~ '^S[0-9A-Z]{4}$'),
    error_name  text NOT NULL UNIQUE CHECK (error_name ~ '^[a-z][a-z0-9_]*$'),
    meaning     text NOT NULL,
    hint        text NOT NULL
);
COMMENT ON TABLE senate.error_codes IS
  'Catalogue of the SQLSTATEs raised by the Senate economics layer. Our own class starts '
  'with S (implementation-defined range): S0xxx schema compatibility, S1xxx economics, '
  'S2xxx governance, S3xxx spend gate and review cycles, S4xxx integrity and security. '
  'Standard codes (22xxx data exceptions, 23xxx constraint violations) are used where they fit.';
COMMENT ON COLUMN senate.error_codes.sqlstate IS 'Five-character SQLSTATE, class S.';
COMMENT ON COLUMN senate.error_codes.error_name IS 'Stable snake_case name for client-side mapping.';
COMMENT ON COLUMN senate.error_codes.meaning IS 'What the error means.';
COMMENT ON COLUMN senate.error_codes.hint IS 'What the caller should do about it.';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S0001', 'compatibility_conflict',
   'A write set a compatibility column and its canonical column to different values.',
   'Set only one of the two columns, or set both to the same value.')
ON CONFLICT (sqlstate) DO NOTHING;

CREATE OR REPLACE FUNCTION senate.raise_error(
    p_sqlstate text, p_message text, p_detail text DEFAULT NULL, p_hint text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = p_sqlstate,
        MESSAGE = p_message,
        DETAIL  = coalesce(p_detail, ''),
        HINT    = coalesce(p_hint,
                   (SELECT e.hint FROM senate.error_codes AS e WHERE e.sqlstate = p_sqlstate), '');
END;
$$;
COMMENT ON FUNCTION senate.raise_error(text, text, text, text) IS
  'Raises an error with the given SQLSTATE and message; the HINT defaults to the one '
  'catalogued in senate.error_codes for that SQLSTATE.';
