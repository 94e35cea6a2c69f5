-- Removes only what 0022 added.
CALL senate.release('0022');
