-- Removes only what 0051 added. Dropping a column is a catalog-only change;
-- the values go with it (they are ours: keys and correction bookkeeping).
-- Correction rows themselves stay (they are usage rows and keep totals exact).
SET lock_timeout = '5s';
-- The constraints bind only the columns dropped below: nothing else relied on them.
-- squawk-ignore ban-drop-constraint
ALTER TABLE public.resource_usage DROP CONSTRAINT IF EXISTS resource_usage_correction_check;
-- squawk-ignore ban-drop-constraint
ALTER TABLE public.resource_usage DROP CONSTRAINT IF EXISTS resource_usage_idempotency_key_check;
ALTER TABLE public.resource_usage DROP COLUMN IF EXISTS corrects_usage_id;
ALTER TABLE public.resource_usage DROP COLUMN IF EXISTS corrected_at;
ALTER TABLE public.resource_usage DROP COLUMN IF EXISTS correction_actor;
ALTER TABLE public.resource_usage DROP COLUMN IF EXISTS correction_reason;
ALTER TABLE public.resource_usage DROP COLUMN IF EXISTS idempotency_key;
