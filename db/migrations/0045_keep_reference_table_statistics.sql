-- Why: the small reference tables (entity kinds, resource classes, tiers, models,
-- providers, the active policy, the reserve) hold a handful of rows and change a few
-- rows a year. Autovacuum analyzes a table only after 50 + 10 % of its rows changed, so
-- these are never analyzed, and the planner guesses ~500 rows for each. The guesses
-- multiply in budget_status (budgets x classes x policy): measured on the bench machine
-- the one-entity plan cost came out at 185k, above jit_above_cost (100k), so every call
-- JIT-compiled its expressions: p50 550 ms per budget check instead of 0.4 ms. With real
-- statistics the same plan costs 55, and uses the usage_day range in the rollup index.
-- This analyzes them now and lets autovacuum re-analyze them after any change.
-- (Services can also turn JIT off for OLTP sessions: jit = off.)
SET lock_timeout = '5s';

DO $$
DECLARE
    v_table regclass;
BEGIN
    FOREACH v_table IN ARRAY ARRAY[
        to_regclass('public.entity_types'), to_regclass('public.resource_types'),
        to_regclass('public.model_tiers'), to_regclass('public.llm_models'),
        to_regclass('public.api_providers'), to_regclass('public.economics_policy'),
        to_regclass('public.senate_reserve')]
    LOOP
        CONTINUE WHEN v_table IS NULL;
        EXECUTE format('ALTER TABLE %s SET (autovacuum_analyze_threshold = 1, '
                       'autovacuum_analyze_scale_factor = 0)', v_table);
        EXECUTE format('ANALYZE %s', v_table);
    END LOOP;
END;
$$;
