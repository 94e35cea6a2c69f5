-- Removes only what 0150 added: the two forecast settings of economics_policy.
SET lock_timeout = '5s';
CALL senate.release('0150');
