-- Removes only what 0162 added: the price functions and triggers, usage_price_periods, the
-- price history and ledger, price_effective_from, the error codes; the usage triggers and
-- reconcile_usage_rollups get back the definitions 0162 saved (usage priced at the current
-- price again); the price comments are put back as 0002 left them. The current prices stay
-- what they are now.
SET lock_timeout = '5s';
DO $$
BEGIN
    PERFORM senate.restore_definitions('0162');
END;
$$;
DELETE FROM senate.table_access
WHERE relation_name IN ('public.usage_price_periods', 'public.price_changes',
                        'senate.price_periods');
DELETE FROM senate.function_access
WHERE function_name IN ('public.set_usage_price', 'public.correct_usage_price');
DELETE FROM senate.function_hardening
WHERE function_oid IN (
    pg_catalog.to_regprocedure('public.set_usage_price(text, text, numeric, text, timestamptz)'),
    pg_catalog.to_regprocedure('public.correct_usage_price(text, text, numeric, timestamptz, timestamptz, text)'),
    pg_catalog.to_regprocedure('senate.lock_priced_subject(text, text, text, numeric, text)'),
    pg_catalog.to_regprocedure('senate.record_price_writes()'),
    pg_catalog.to_regprocedure('senate.usage_price_at(text, text, timestamptz)'));
DROP FUNCTION IF EXISTS public.set_usage_price(text, text, numeric, text, timestamptz);
DROP FUNCTION IF EXISTS public.correct_usage_price(text, text, numeric, timestamptz, timestamptz, text);
DROP FUNCTION IF EXISTS senate.lock_priced_subject(text, text, text, numeric, text);
DROP TRIGGER IF EXISTS t40_record_price_writes ON public.llm_models;
DROP TRIGGER IF EXISTS t40_record_price_writes ON public.api_providers;
DROP FUNCTION IF EXISTS senate.record_price_writes();
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.usage_price_periods;
DROP FUNCTION IF EXISTS senate.usage_price_at(text, text, timestamptz);
DROP TRIGGER IF EXISTS t10_refuse_price_change_edits ON public.price_changes;
DROP TRIGGER IF EXISTS t10_refuse_price_change_truncate ON public.price_changes;
CALL senate.release('0162');
DELETE FROM senate.error_codes WHERE sqlstate IN ('S3010', 'S3011', 'S3012', 'S3013');
COMMENT ON COLUMN public.llm_models.usd_per_token IS 'Blended cost in USD per token, used when a usage row carries no cost.';
COMMENT ON COLUMN public.api_providers.usd_per_call IS 'Cost in USD per call, used when a usage row carries no cost.';
