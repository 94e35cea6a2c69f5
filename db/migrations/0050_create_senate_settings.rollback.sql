-- Removes only what 0050 added (the settings and their log are ours).
DROP FUNCTION IF EXISTS public.set_senate_setting(text, boolean, text, text);
DROP FUNCTION IF EXISTS senate.usage_strict_validation();
DROP FUNCTION IF EXISTS senate.usage_append_only();
DROP TABLE IF EXISTS senate.settings_log;
DROP TABLE IF EXISTS senate.settings;
DELETE FROM senate.error_codes WHERE sqlstate IN ('S4002', 'S4003', 'S4004', 'S4005');
