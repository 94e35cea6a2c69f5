-- Puts back the default fillfactor of senate.usage_rollups (what 0170 changed).
SET lock_timeout = '5s';

ALTER TABLE senate.usage_rollups RESET (fillfactor);
