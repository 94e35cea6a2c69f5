-- Removes only what 0051 added (senate.schema_registry): its constraints and the columns it
-- created. Dropping a column is a catalog-only change; the values go with it (they are ours:
-- keys and correction bookkeeping). A column the deployment already had (an idempotency_key of
-- its own, with its data) stays. Correction rows themselves stay (they are usage rows and keep
-- totals exact).
SET lock_timeout = '5s';
CALL senate.release('0051');
