-- Removes only what 0058 added and puts back the insert triggers it folded together
-- (the reference check only where 0058 found it: its trigger argument says so).
SET lock_timeout = '5s';

DO $$
DECLARE
    v_check_references boolean;
BEGIN
    SELECT t.tgnargs > 0 INTO v_check_references
    FROM pg_trigger AS t
    WHERE t.tgrelid = 'public.resource_usage'::regclass
      AND t.tgname = 't80_account_usage_inserts';
    IF NOT FOUND THEN
        RETURN;  -- not applied
    END IF;
    DROP TRIGGER t80_account_usage_inserts ON public.resource_usage;
    DROP TRIGGER IF EXISTS t10_refuse_forged_corrections ON public.resource_usage;
    DROP TRIGGER IF EXISTS t70_settle_spend_reservations ON public.resource_usage;

    IF v_check_references THEN
        CREATE TRIGGER t10_check_usage_reference_inserts
            AFTER INSERT ON public.resource_usage
            REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION senate.check_usage_references();
        COMMENT ON TRIGGER t10_check_usage_reference_inserts ON public.resource_usage IS
          'Inserted rows must name an existing entity kind and resource class (23503); replaces '
          'the per-row foreign keys of 0003.';
    END IF;
    CREATE TRIGGER t10_validate_usage_inserts
        AFTER INSERT ON public.resource_usage
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION senate.validate_usage_inserts();
    COMMENT ON TRIGGER t10_validate_usage_inserts ON public.resource_usage IS
      'Strict validation of inserted usage (senate.settings.usage_strict_validation): 23514 / 23503.';
    CREATE TRIGGER t10_refuse_forged_corrections
        AFTER INSERT ON public.resource_usage
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_forged_corrections();
    COMMENT ON TRIGGER t10_refuse_forged_corrections ON public.resource_usage IS
      'Correction rows come only from correct_resource_usage() (42501 otherwise).';
    CREATE TRIGGER t70_settle_spend_reservations
        AFTER INSERT ON public.resource_usage
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION senate.settle_spend_reservations();
    COMMENT ON TRIGGER t70_settle_spend_reservations ON public.resource_usage IS
      'Usage rows naming a spend reservation settle it, in the same transaction.';
    CREATE TRIGGER t80_roll_up_usage_inserts
        AFTER INSERT ON public.resource_usage
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION senate.roll_up_usage();
    COMMENT ON TRIGGER t80_roll_up_usage_inserts ON public.resource_usage IS
      'Folds inserted usage into senate.usage_rollups.';
END;
$$;

COMMENT ON FUNCTION senate.validate_usage_inserts() IS
  'Statement-level trigger on resource_usage inserts, while senate.settings.usage_strict_validation '
  'is on: refuses negative or non-finite amounts outside corrections (23514) and unknown entity '
  'types, resource classes, models of llm_tokens rows and providers of api_calls rows (23503).';
COMMENT ON FUNCTION senate.refuse_forged_corrections() IS
  'Statement-level trigger on resource_usage inserts: only correct_resource_usage() (which runs '
  'as the table owner) may write correction rows; anyone else gets 42501.';
COMMENT ON FUNCTION senate.settle_spend_reservations() IS
  'Statement-level trigger on resource_usage: settles the reservations the inserted rows name '
  '(same entity and class): the hold ends, settled_amount adds up the rows'' amounts. A statement '
  'whose rows name no reservation costs one pass over its transition table.';

DROP FUNCTION IF EXISTS senate.settle_spend_reservation();
DROP FUNCTION IF EXISTS senate.refuse_forged_correction_row();
DROP FUNCTION IF EXISTS senate.account_usage_inserts();
DROP FUNCTION IF EXISTS senate.raise_usage_insert_error(text, text);

-- Trigger functions on the deployed tables run with the owner's rights from the migration that
-- defines them (issue 14 point 9): a legacy writer holding only its grants on the deployed
-- tables keeps working after every migration, not only once 0099/0126 have run. Their bodies
-- name every object schema-qualified; the path is pinned to the catalog.
ALTER FUNCTION senate.roll_up_usage() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION senate.check_usage_references() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION senate.validate_usage_inserts() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION senate.refuse_forged_corrections() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION senate.settle_spend_reservations() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
