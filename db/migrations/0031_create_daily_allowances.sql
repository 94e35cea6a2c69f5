-- Why: a budget envelope applies over a budget period (economics_policy.budget_period:
-- an ISO week from Monday by default, in the policy time zone; see 0011). The daily
-- check for spend safety needs a DAILY allowance too, so that a week's budget is not
-- burnt in one day. By default it follows from the envelope:
--   daily allowance = effective budget / days in the budget period
--                     (effective budget = base * (1 + applied market weight); 7 days for
--                      a week, 1 for a day, so with budget_period = day it is the budget);
-- and where the Senate wants another pace for an entity and class, it sets one explicitly
-- in resource_daily_allowances (an absolute amount per day, in the unit of the class, not
-- scaled by market weight). Removing the row returns to the default.
--
-- Mid-period changes: periods are calendar-aligned and never move or restart when a
-- budget changes. A new budget applies to the whole current period's spend at once:
-- remaining = new effective budget - spent since period_start - held. An increase helps
-- at once; a decrease shrinks what remains, and refuses further spend only when what was
-- actually spent this period already reaches the new budget. Nothing is pro-rated and no
-- window is re-measured, so a change never makes old spend count against a shorter or
-- different window. The derived daily allowance follows the new budget from the next check.
--
-- The table is new (this release), so its CREATE TABLE and indexes take no locks on
-- existing data.
SET lock_timeout = '5s';

CALL senate.claim('0031', 'table', 'public.resource_daily_allowances');
CREATE TABLE IF NOT EXISTS public.resource_daily_allowances (
    entity_type      text NOT NULL,
    entity_id        text NOT NULL,
    resource_type    text NOT NULL REFERENCES public.resource_types (resource_type),
    daily_allowance  numeric NOT NULL
        CHECK (daily_allowance >= 0 AND daily_allowance NOT IN ('Infinity'::numeric, 'NaN'::numeric)),
    set_by           text NOT NULL CHECK (length(set_by) BETWEEN 1 AND 200),
    set_at           timestamptz NOT NULL DEFAULT now(),
    note             text CHECK (length(note) <= 2000),
    PRIMARY KEY (entity_type, entity_id, resource_type),
    FOREIGN KEY (entity_type, entity_id)
        REFERENCES public.resource_budgets (entity_type, entity_id) ON DELETE CASCADE
);
COMMENT ON TABLE public.resource_daily_allowances IS
  'Explicit daily allowances: how much an entity may spend of a resource class per calendar day '
  '(policy time zone) before the daily check throttles it. Without a row the allowance is the '
  'effective budget divided by the days in the budget period (7 for a week). Set with '
  'set_daily_allowance().';
COMMENT ON COLUMN public.resource_daily_allowances.entity_type IS 'Kind of entity (envelope in resource_budgets).';
COMMENT ON COLUMN public.resource_daily_allowances.entity_id IS 'Identifier of the entity.';
COMMENT ON COLUMN public.resource_daily_allowances.resource_type IS 'Resource class the allowance is for.';
COMMENT ON COLUMN public.resource_daily_allowances.daily_allowance IS 'Allowance per calendar day, in the unit of the class (tokens, CPU-seconds, GB-hours, calls); not scaled by market weight.';
COMMENT ON COLUMN public.resource_daily_allowances.set_by IS 'Who set the allowance.';
COMMENT ON COLUMN public.resource_daily_allowances.set_at IS 'When it was last set.';
COMMENT ON COLUMN public.resource_daily_allowances.note IS 'Why it was set.';

CREATE OR REPLACE FUNCTION senate.effective_class_budget(
    b public.resource_budgets, p_resource_type text, p public.economics_policy)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT public.effective_budget(
        senate.budget_amount(b, p_resource_type),
        senate.applied_market_weight(b.market_weight, b.priority_score,
                                     p.min_priority_for_market_weight, p.max_market_boost,
                                     p.max_market_penalty))
$$;
COMMENT ON FUNCTION senate.effective_class_budget(public.resource_budgets, text, public.economics_policy) IS
  'Effective budget of one resource class of an envelope under a policy, exactly as budget_status '
  'computes it: base * (1 + applied market weight), in the unit of the class.';

CREATE OR REPLACE FUNCTION senate.derived_daily_allowance(
    p_effective_budget numeric, p_period_start date, p_period_end date)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT round(p_effective_budget / greatest(p_period_end - p_period_start, 1), 6)
$$;
COMMENT ON FUNCTION senate.derived_daily_allowance(numeric, date, date) IS
  'Default daily allowance: effective budget / days in the budget period [period_start, '
  'period_end) (7 for a week, 1 for a day), rounded to 6 decimals, in the unit of the class.';

CREATE OR REPLACE FUNCTION public.set_daily_allowance(
    p_entity_type text, p_entity_id text, p_resource_type text, p_daily_allowance numeric,
    p_actor text, p_note text DEFAULT NULL)
RETURNS numeric
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_actor text := senate.require_actor('actor', p_actor);
    v_note text := senate.require_short_text('note', p_note, 2000);
BEGIN
    PERFORM senate.require_entity(p_entity_type, p_entity_id);
    PERFORM senate.require_resource_type('resource_type', p_resource_type);
    IF p_daily_allowance IS NULL THEN
        DELETE FROM public.resource_daily_allowances AS a
        WHERE a.entity_type = p_entity_type AND a.entity_id = p_entity_id
          AND a.resource_type = p_resource_type;
        RETURN NULL;
    END IF;
    IF p_daily_allowance = 'NaN'::numeric OR p_daily_allowance = 'Infinity'::numeric
       OR p_daily_allowance < 0 THEN
        PERFORM senate.raise_error('S2006',
            format('daily_allowance must be a finite amount >= 0, got %s', p_daily_allowance));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.resource_budgets AS b
                   WHERE b.entity_type = p_entity_type AND b.entity_id = p_entity_id) THEN
        PERFORM senate.raise_error('S3003',
            format('%s %s has no budget envelope (resource_budgets row)', p_entity_type,
                   p_entity_id));
    END IF;
    INSERT INTO public.resource_daily_allowances AS a
        (entity_type, entity_id, resource_type, daily_allowance, set_by, note)
    VALUES (p_entity_type, p_entity_id, p_resource_type, p_daily_allowance, v_actor, v_note)
    ON CONFLICT (entity_type, entity_id, resource_type) DO UPDATE
    SET daily_allowance = excluded.daily_allowance, set_by = excluded.set_by,
        set_at = now(), note = excluded.note;
    RETURN p_daily_allowance;
END;
$$;
COMMENT ON FUNCTION public.set_daily_allowance(text, text, text, numeric, text, text) IS
  'Sets an explicit daily allowance (amount per calendar day in the unit of the class) for an '
  'entity and resource class, or removes it when daily_allowance is NULL (back to effective budget '
  '/ days in period). Returns the explicit allowance (NULL when removed). Errors: S2007/S2009 bad '
  'entity, S2008 unknown class, S2006 negative or non-finite allowance, S2010 actor missing, S2011 '
  'note too long, S3003 no envelope.';
REVOKE EXECUTE ON FUNCTION public.set_daily_allowance(text, text, text, numeric, text, text) FROM PUBLIC;

CALL senate.settle_comments('0031');
