-- Removes only what 0045 added: the per-table autovacuum settings (statistics gathered by
-- ANALYZE are not schema and stay).
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
        EXECUTE format('ALTER TABLE %s RESET (autovacuum_analyze_threshold, '
                       'autovacuum_analyze_scale_factor)', v_table);
    END LOOP;
END;
$$;
