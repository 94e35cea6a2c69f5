-- Removes only what 0175 added: the family tree (entity_parents, its ledger
-- entity_parent_changes, the closure senate.entity_family), the functions that change it, their
-- grants and error codes. The spend gate's definitions of this release read the closure: roll
-- definitions back with the previous release's files (operations.md, "Rolling back").
SET lock_timeout = '5s';
DELETE FROM senate.function_access
WHERE function_name IN ('public.set_entity_parent', 'public.clear_entity_parent');
DELETE FROM senate.function_hardening
WHERE function_oid IN (
    pg_catalog.to_regprocedure('public.set_entity_parent(text, text, text, text, text)'),
    pg_catalog.to_regprocedure('public.clear_entity_parent(text, text, text)'),
    pg_catalog.to_regprocedure('senate.refresh_entity_family(text[], text[])'),
    pg_catalog.to_regprocedure('senate.change_entity_parent(text, text, text, text, text, text)'),
    pg_catalog.to_regprocedure('senate.family_levels(text, text, text, date, date, timestamptz)'));
DROP FUNCTION IF EXISTS public.set_entity_parent(text, text, text, text, text);
DROP FUNCTION IF EXISTS public.clear_entity_parent(text, text, text);
DROP FUNCTION IF EXISTS senate.change_entity_parent(text, text, text, text, text, text);
DROP FUNCTION IF EXISTS senate.refresh_entity_family(text[], text[]);
DROP FUNCTION IF EXISTS senate.family_levels(text, text, text, date, date, timestamptz);
DELETE FROM senate.table_access
WHERE relation_name IN ('public.entity_parents', 'public.entity_parent_changes');
DROP TABLE IF EXISTS senate.entity_family;
DROP TABLE IF EXISTS public.entity_parent_changes;
DROP TABLE IF EXISTS public.entity_parents;
DELETE FROM senate.error_codes WHERE sqlstate IN ('S3014', 'S3015', 'S3016', 'S3017');
