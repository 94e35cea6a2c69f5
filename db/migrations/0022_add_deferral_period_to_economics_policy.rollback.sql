-- Removes only what 0022 added.
ALTER TABLE public.economics_policy DROP COLUMN IF EXISTS deferral_period;
