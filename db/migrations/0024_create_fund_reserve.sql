-- Why: approvals are paid from the Senate reserve, so the reserve must be the
-- single door through which new resources enter the system. fund_reserve()
-- adds to one resource class's pool and names the cause (reserve_funding),
-- the actor and the note; the ledger trigger on senate_reserve records the
-- change with before and after balances. Services never hold the right to
-- write senate_reserve directly (roles: migration 0050+).
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION public.fund_reserve(
    p_resource_type text, p_amount numeric, p_actor text, p_note text DEFAULT NULL)
RETURNS numeric
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_actor text := senate.require_actor('actor', p_actor);
    v_note text := senate.require_short_text('note', p_note, 2000);
    v_balance numeric;
BEGIN
    PERFORM senate.require_resource_type('resource_type', p_resource_type);
    PERFORM senate.require_positive_amount('amount', p_amount);

    PERFORM senate.set_change_cause('reserve_funding', NULL, v_actor,
                                    coalesce(v_note, 'reserve funded'));
    INSERT INTO public.senate_reserve AS r (resource_type, balance)
    VALUES (p_resource_type, p_amount)
    ON CONFLICT (resource_type)
    DO UPDATE SET balance = r.balance + excluded.balance, updated_at = now()
    RETURNING r.balance INTO v_balance;
    PERFORM senate.clear_change_cause();
    RETURN v_balance;
END;
$$;
COMMENT ON FUNCTION public.fund_reserve(text, numeric, text, text) IS
  'Adds amount (in the unit of the class: tokens, CPU-seconds, GB-hours, calls) to the Senate '
  'reserve of resource_type and returns the new balance. The only way new resources enter. '
  'Ledger cause reserve_funding, with actor and note. Errors: S2008 unknown class, S2006 amount '
  'not positive and finite, S2010 actor missing, S2011 note over 2000 characters.';
REVOKE EXECUTE ON FUNCTION public.fund_reserve(text, numeric, text, text) FROM PUBLIC;
