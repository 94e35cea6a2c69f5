-- transactional: false
-- Removes only what 0005 added: the backfill procedure and its error codes. The values it
-- filled live in the compatibility columns; the rollback of 0004 drops the columns this
-- project added (with those values). Values it filled into a compatibility column that the
-- deployment already had stay: they equal the canonical values they were copied from.
-- (The vote CHECK it validated belongs to 0004 and goes with the votes column.)
SET lock_timeout = '5s';

DROP PROCEDURE IF EXISTS senate.backfill_compatibility_columns(integer, boolean);
DELETE FROM senate.error_codes WHERE sqlstate IN ('S0002', 'S0030');
