SET lock_timeout = '5s';
DELETE FROM senate.function_access WHERE function_name IN ('public.add_senator', 'public.remove_senator');
DELETE FROM senate.table_access WHERE relation_name = 'senate.senate_members';
DROP FUNCTION IF EXISTS public.remove_senator(text);
DROP FUNCTION IF EXISTS public.add_senator(text, text);
DROP FUNCTION IF EXISTS senate.require_session_senator(text, text);
DROP FUNCTION IF EXISTS senate.session_senator();
DROP TABLE IF EXISTS senate.senate_members;
DELETE FROM senate.error_codes WHERE sqlstate BETWEEN 'S5010' AND 'S5017';
