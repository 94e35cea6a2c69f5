-- Removes only what 0002 added.
CALL senate.release('0002');
