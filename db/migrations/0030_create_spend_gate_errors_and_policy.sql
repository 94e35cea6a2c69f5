-- Why: the spend gate (can_spend, reserve_spend) and the review cycles
-- (run_daily_check, run_rebalance) refuse requests with one SQLSTATE per kind
-- of refusal, so that services react by code and never parse message text.
-- This migration catalogues the S3xxx codes and adds the one policy setting
-- the gate needs: how long a spend reservation may hold budget at most
-- (policy is data; a constant in code would be invisible to the Senate).
--
-- economics_policy holds a handful of rows (one per version), so the inline
-- CHECK's validation scan is negligible; the constant default makes the ADD
-- COLUMN itself catalog-only.
SET lock_timeout = '5s';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S3001', 'spend_over_budget',
   'The requested amount would pass what remains of the entity''s effective budget for the '
   'current period (spent + held by active reservations + requested > effective budget), or '
   'of its model tier''s cap.',
   'Ask for less (see can_spend(...).remaining), wait for the next period, or file an '
   'allocation proposal for more budget.'),
  ('S3002', 'spend_throttled',
   'The entity is throttled for this resource class by the daily check (it passed its daily '
   'allowance or its period budget).',
   'Wait until the throttle ends (budget_status.throttled_until) or until its budget rises.'),
  ('S3003', 'no_budget_envelope',
   'The entity has no resource_budgets row, so it has no budget to spend from.',
   'File an allocation proposal for the entity; approval creates its envelope.'),
  ('S3004', 'unknown_model',
   'The model is not in llm_models, or a model was given for a resource class other than '
   'llm_tokens.',
   'Register the model in llm_models (with its tier), or omit the model for classes other '
   'than llm_tokens.'),
  ('S3005', 'reservation_ttl_invalid',
   'A reservation time-to-live is missing, not positive, or longer than the policy''s '
   'max_reservation_ttl.',
   'Pass a ttl > 0 and <= economics_policy.max_reservation_ttl (default 1 day).'),
  ('S3006', 'reservation_isolation_unsupported',
   'reserve_spend was called in a REPEATABLE READ transaction, whose snapshot cannot see '
   'reservations committed by concurrent callers, so holds could together pass the budget.',
   'Call reserve_spend in READ COMMITTED (the default) or SERIALIZABLE.'),
  ('S3007', 'reservation_not_found',
   'No active spend reservation has this id (unknown, already settled, released or expired).',
   'Check the id returned by reserve_spend(); settled and expired reservations need no release.'),
  ('S3008', 'cycle_date_invalid',
   'A review cycle was asked about a date or time in the future (or NULL where a value is '
   'needed).',
   'Pass a date up to today (policy time zone) to run_daily_check, a time up to now() to '
   'run_rebalance and check_spend_alerts.')
ON CONFLICT (sqlstate) DO NOTHING;

CALL senate.claim('0030', 'column', 'public.economics_policy', 'max_reservation_ttl');
ALTER TABLE public.economics_policy
    ADD COLUMN IF NOT EXISTS max_reservation_ttl interval NOT NULL DEFAULT '1 day'
        CONSTRAINT economics_policy_max_reservation_ttl_range
        CHECK (max_reservation_ttl > interval '0' AND max_reservation_ttl <= interval '7 days');
COMMENT ON COLUMN public.economics_policy.max_reservation_ttl IS
  'Longest time-to-live a spend reservation (reserve_spend) may ask for; an unsettled reservation '
  'holds budget at most this long (default 1 day, at most 7 days).';
COMMENT ON CONSTRAINT economics_policy_max_reservation_ttl_range ON public.economics_policy IS
  'A reservation may live more than zero and at most 7 days.';

CALL senate.settle_comments('0030');
