-- Removes only what 0130 created: the index, if 0130 built it (a fresh install's comes from
-- 0003 and goes with 0003's rollback; a deployment's own stays). Dropping an index is a catalog
-- change: it waits only for the transactions in flight (lock_timeout bounds that).
SET lock_timeout = '5s';

CALL senate.release('0130');
