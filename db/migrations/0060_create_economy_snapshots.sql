-- Why: budgets are an editable control surface and the reserve moves with every
-- approval and rebalance, so "how did budgets compare with spend, week by week,
-- for each kind of entity?" and "how has the reserve moved?" need the state of
-- the economy at regular instants. Rebuilding it from the ledger would replay every
-- change for every chart, and usage history would have to be re-summed per point.
-- record_economy_snapshot(as_of) stores, per entity type and resource class, the
-- envelopes (base and effective), their spend in the budget period through as_of's
-- day and how many are over budget, and, per class, the reserve balance: a few dozen
-- rows per call, written on the daily review cadence (pg_cron, or the daily cycle
-- of `senate-db cycle`; the demo calls it at the end of every simulated day). The
-- Senate report charts these tables. Spend comes from senate.usage_rollups, never
-- from a scan of resource_usage. Calling it again for the same instant replaces
-- that instant's rows, so a retried job never duplicates a point.
SET lock_timeout = '5s';

CALL senate.claim('0060', 'table', 'public.budget_snapshots');
CREATE TABLE IF NOT EXISTS public.budget_snapshots (
    snapshot_at           timestamptz NOT NULL,
    entity_type           text NOT NULL REFERENCES public.entity_types (entity_type),
    resource_type         text NOT NULL REFERENCES public.resource_types (resource_type),
    period_start          date NOT NULL,
    period_end            date NOT NULL,
    envelopes             integer NOT NULL CHECK (envelopes >= 0),
    base_budget           numeric NOT NULL CHECK (base_budget >= 0),
    effective_budget      numeric NOT NULL CHECK (effective_budget >= 0),
    spent                 numeric NOT NULL,
    spent_cost_usd        numeric NOT NULL,
    over_budget_entities  integer NOT NULL CHECK (over_budget_entities >= 0),
    recorded_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (snapshot_at, entity_type, resource_type),
    CHECK (period_start < period_end)
);
COMMENT ON TABLE public.budget_snapshots IS
  'The economy at an instant, per entity type and resource class: envelopes, their base and '
  'effective budgets, spend in the budget period through the instant''s day, and how many are '
  'over budget. Written by record_economy_snapshot(); the Senate report charts it.';
COMMENT ON COLUMN public.budget_snapshots.snapshot_at IS 'The instant described (as_of of record_economy_snapshot).';
COMMENT ON COLUMN public.budget_snapshots.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.budget_snapshots.resource_type IS 'Resource class (unit in resource_types).';
COMMENT ON COLUMN public.budget_snapshots.period_start IS 'First day of the budget period containing snapshot_at (policy time zone).';
COMMENT ON COLUMN public.budget_snapshots.period_end IS 'First day after that budget period (exclusive bound).';
COMMENT ON COLUMN public.budget_snapshots.envelopes IS 'Number of resource_budgets rows of this entity type, in envelopes.';
COMMENT ON COLUMN public.budget_snapshots.base_budget IS 'Sum of their base budgets for the class per period, in the unit of the class (tokens, CPU-seconds, GB-hours, calls).';
COMMENT ON COLUMN public.budget_snapshots.effective_budget IS 'Sum of their effective budgets (base * (1 + applied market weight)), in the unit of the class.';
COMMENT ON COLUMN public.budget_snapshots.spent IS 'Their spend in the period from period_start through snapshot_at''s day, in the unit of the class.';
COMMENT ON COLUMN public.budget_snapshots.spent_cost_usd IS 'Cost of that spend, in USD.';
COMMENT ON COLUMN public.budget_snapshots.over_budget_entities IS 'How many of them had spent more than their effective budget, in entities.';
COMMENT ON COLUMN public.budget_snapshots.recorded_at IS 'When the row was written (clock time).';

CALL senate.claim('0060', 'table', 'public.reserve_snapshots');
CREATE TABLE IF NOT EXISTS public.reserve_snapshots (
    snapshot_at    timestamptz NOT NULL,
    resource_type  text NOT NULL REFERENCES public.resource_types (resource_type),
    balance        numeric NOT NULL CHECK (balance >= 0),
    allocated      numeric NOT NULL CHECK (allocated >= 0),
    recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (snapshot_at, resource_type)
);
COMMENT ON TABLE public.reserve_snapshots IS
  'The Senate reserve at an instant, per resource class, with what is allocated to envelopes at '
  'the same instant. Written by record_economy_snapshot(); the Senate report charts it.';
COMMENT ON COLUMN public.reserve_snapshots.snapshot_at IS 'The instant described.';
COMMENT ON COLUMN public.reserve_snapshots.resource_type IS 'Resource class of the pool.';
COMMENT ON COLUMN public.reserve_snapshots.balance IS 'Reserve balance, in the unit of the class (tokens, CPU-seconds, GB-hours, calls).';
COMMENT ON COLUMN public.reserve_snapshots.allocated IS 'Sum of the base budgets of every envelope for the class, in the unit of the class.';
COMMENT ON COLUMN public.reserve_snapshots.recorded_at IS 'When the row was written (clock time).';

CREATE OR REPLACE FUNCTION public.record_economy_snapshot(as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_rows integer;
    v_reserve_rows integer;
    v_day date := (as_of AT TIME ZONE senate.policy_time_zone())::date;
BEGIN
    IF as_of IS NULL OR NOT isfinite(as_of) THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'as_of',
            MESSAGE = format('record_economy_snapshot: as_of = %s is not allowed',
                             coalesce(as_of::text, 'NULL')),
            HINT = 'Pass a finite timestamptz (default now()).';
    END IF;

    -- Per envelope and class: budgets from budget_status_as_of (the period containing
    -- as_of), spend only through as_of's day (later days of the period may exist when
    -- a past instant is recorded).
    INSERT INTO public.budget_snapshots AS s
        (snapshot_at, entity_type, resource_type, period_start, period_end, envelopes,
         base_budget, effective_budget, spent, spent_cost_usd, over_budget_entities)
    SELECT as_of, b.entity_type, b.resource_type, min(b.period_start), min(b.period_end),
           count(*), sum(b.base_budget), sum(b.effective_budget),
           coalesce(sum(u.spent), 0), coalesce(sum(u.spent_cost_usd), 0),
           count(*) FILTER (WHERE coalesce(u.spent, 0) > b.effective_budget)
    FROM public.budget_status_as_of(as_of) AS b
    LEFT JOIN (
        SELECT r.entity_type, r.entity_id, r.resource_type,
               sum(r.amount_total) AS spent, sum(r.cost_total_usd) AS spent_cost_usd
        FROM senate.usage_rollups AS r
        CROSS JOIN public.budget_period_bounds(as_of) AS p
        WHERE r.usage_day >= p.period_start AND r.usage_day <= v_day
        GROUP BY r.entity_type, r.entity_id, r.resource_type) AS u
      ON u.entity_type = b.entity_type AND u.entity_id = b.entity_id
     AND u.resource_type = b.resource_type
    GROUP BY b.entity_type, b.resource_type
    ORDER BY b.entity_type, b.resource_type
    ON CONFLICT (snapshot_at, entity_type, resource_type) DO UPDATE
    SET period_start = excluded.period_start, period_end = excluded.period_end,
        envelopes = excluded.envelopes, base_budget = excluded.base_budget,
        effective_budget = excluded.effective_budget, spent = excluded.spent,
        spent_cost_usd = excluded.spent_cost_usd,
        over_budget_entities = excluded.over_budget_entities, recorded_at = clock_timestamp();
    GET DIAGNOSTICS v_rows = ROW_COUNT;

    INSERT INTO public.reserve_snapshots AS s (snapshot_at, resource_type, balance, allocated)
    SELECT as_of, t.resource_type, coalesce(r.balance, 0),
           coalesce((SELECT sum(senate.budget_amount(b, t.resource_type))
                     FROM public.resource_budgets AS b), 0)
    FROM public.resource_types AS t
    LEFT JOIN public.senate_reserve AS r ON r.resource_type = t.resource_type
    ORDER BY t.resource_type
    ON CONFLICT (snapshot_at, resource_type) DO UPDATE
    SET balance = excluded.balance, allocated = excluded.allocated,
        recorded_at = clock_timestamp();
    GET DIAGNOSTICS v_reserve_rows = ROW_COUNT;
    RETURN v_rows + v_reserve_rows;
END;
$$;
COMMENT ON FUNCTION public.record_economy_snapshot(timestamptz) IS
  'Records the economy as of an instant (default now()): per entity type and resource class the '
  'envelopes, base and effective budgets, spend in the budget period through as_of''s day (USD '
  'cost too) and over-budget count (budget_snapshots), and per class the reserve balance and the '
  'allocated total (reserve_snapshots). Replaces the rows of the same instant. Returns the rows '
  'written. Run it daily (the review cadence); 22023 for a NULL or infinite as_of.';
REVOKE EXECUTE ON FUNCTION public.record_economy_snapshot(timestamptz) FROM PUBLIC;

CALL senate.settle_comments('0060');
