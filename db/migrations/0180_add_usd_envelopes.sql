-- Why (issue 18, point 4 "USD envelopes"): envelopes budgeted units only, while the USD cost of
-- every usage row was already rolled up (senate.usage_rollups.cost_total_usd) but never gated.
-- An envelope may now also carry an optional cost budget in USD per budget period:
--   * public.resource_budgets.cost_budget_usd: NULL (the default, every existing envelope) means
--     no money gate at all, so an entity without it gets exactly the answers it got before;
--   * money is a budget class: resource_types row 'usd' (unit USD, budget column
--     cost_budget_usd), so budget_status, budget_levels, alerts, throttles, the reserve
--     (senate_reserve 'usd', fund_reserve) and proposals (resource_type 'usd') treat it like
--     any class. Its spend in a period is the sum of cost_total_usd over all usage classes; no
--     usage row is ever of class 'usd' (ingest refuses one, S3018);
--   * public.spend_reservations.amount_usd: the USD a hold keeps from the money envelope (a
--     hold of class 'usd': its amount; a unit hold of an entity whose family has a USD budget:
--     the price of its amount at reservation time; NULL otherwise).
-- The gate (can_spend / reserve_spend) checks the money of a unit request with the price in
-- force (db/definitions/50_spend_gate.sql, senate.gate_position).
SET lock_timeout = '5s';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S3018', 'usd_usage_refused',
   'resource_usage of resource_type usd: usd is the money budget class, whose spend is the '
   'cost of the usage of the other classes; no usage row is recorded in it.',
   'Record the usage in its own class (llm_tokens, cpu_seconds, storage_gb_hours, api_calls) '
   'with its cost: it counts against the USD budget through cost_total_usd.')
ON CONFLICT (sqlstate) DO NOTHING;

-- The optional cost budget. resource_budgets holds one row per envelope (thousands, not
-- millions): the new column is nullable without a default (no rewrite), with its check (every
-- row NULL passes it).
CALL senate.claim('0180', 'column', 'public.resource_budgets', 'cost_budget_usd');
ALTER TABLE public.resource_budgets
    ADD COLUMN IF NOT EXISTS cost_budget_usd numeric
        CONSTRAINT resource_budgets_cost_budget_usd_check
        CHECK (cost_budget_usd >= 0
               AND cost_budget_usd <> ALL (ARRAY['NaN'::numeric, 'Infinity'::numeric]));
COMMENT ON COLUMN public.resource_budgets.cost_budget_usd IS
  'Optional cost budget of the envelope, in USD per budget period (resource class usd): its '
  'spend is the USD cost of all its usage (sum of usage_rollups.cost_total_usd over every class) '
  'and the gate refuses a request whose price does not fit. NULL (the default): no money gate, '
  'only the unit budgets apply. Finite and >= 0.';
COMMENT ON CONSTRAINT resource_budgets_cost_budget_usd_check ON public.resource_budgets IS
  'cost_budget_usd is NULL or a finite amount >= 0 in USD (NaN and infinity refused).';

-- Money as a budget class. resource_types is a handful of rows: its check is replaced and
-- validated at once.
-- squawk-ignore ban-drop-constraint
ALTER TABLE public.resource_types DROP CONSTRAINT IF EXISTS resource_types_budget_column_check;
ALTER TABLE public.resource_types
    ADD CONSTRAINT resource_types_budget_column_check
    CHECK (budget_column IN ('token_budget', 'cpu_budget', 'storage_budget_gb', 'api_call_budget',
                             'cost_budget_usd')) NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE public.resource_types VALIDATE CONSTRAINT resource_types_budget_column_check;
INSERT INTO public.resource_types (resource_type, unit, budget_column, description)
VALUES ('usd', 'USD', 'cost_budget_usd',
        'Money: the optional cost budget of an envelope in USD per period; spent by the USD cost '
        'of the usage of every other class (no usage row is of this class).')
ON CONFLICT (resource_type) DO NOTHING;
COMMENT ON TABLE public.resource_types IS 'The resource classes the Senate allocates, with their unit and the resource_budgets column that holds each class''s envelope: four usage classes (llm_tokens, cpu_seconds, storage_gb_hours, api_calls) and usd, the optional cost budget in USD, spent by the cost of the others'' usage.';
COMMENT ON COLUMN public.resource_types.unit IS 'Unit of resource_usage.amount for this class (tokens, CPU-seconds, GB-hours, calls), or USD for the money class usd (no usage row).';

-- The USD a hold keeps from the money envelope. spend_reservations is short-lived (finished
-- holds are deleted after a week): a nullable column without a default, with its check.
CALL senate.claim('0180', 'column', 'public.spend_reservations', 'amount_usd');
ALTER TABLE public.spend_reservations
    ADD COLUMN IF NOT EXISTS amount_usd numeric
        CONSTRAINT spend_reservations_amount_usd_check
        CHECK (amount_usd >= 0 AND amount_usd <> ALL (ARRAY['NaN'::numeric, 'Infinity'::numeric]));
COMMENT ON COLUMN public.spend_reservations.amount_usd IS
  'USD this hold keeps from the money envelope while open: the amount of a hold of class usd; '
  'for a unit hold of an entity whose envelope (or an ancestor''s) has a cost budget, the price '
  'of its amount in force at reservation time; NULL otherwise (no money held).';
COMMENT ON CONSTRAINT spend_reservations_amount_usd_check ON public.spend_reservations IS
  'amount_usd is NULL or a finite amount >= 0 in USD.';

-- The functions whose current text (db/definitions) reads the new columns or class: their
-- text before this migration, so that its rollback restores them. On a fresh database some do
-- not exist yet (the definitions are applied after the last migration): nothing to save.
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'senate.budget_amount(public.resource_budgets, text)',
        'senate.record_budget_changes()',
        'senate.family_levels(text, text, text, date, date, timestamptz)',
        'senate.spend_position(text, text, text, text, timestamptz)',
        'public.can_spend(text, text, text, numeric, text)',
        'public.reserve_spend(text, text, text, numeric, interval, text)',
        'senate.apply_approved_proposal()']
    LOOP
        IF pg_catalog.to_regprocedure(f) IS NOT NULL THEN
            PERFORM senate.save_definition('0180', pg_catalog.to_regprocedure(f));
        END IF;
    END LOOP;
END;
$$;

CALL senate.settle_comments('0180');
