-- Removes only what 0020 added: the argument checks and the S2xxx codes.
DROP FUNCTION IF EXISTS senate.require_short_text(text, text, integer);
DROP FUNCTION IF EXISTS senate.require_entity(text, text);
DROP FUNCTION IF EXISTS senate.require_resource_type(text, text);
DROP FUNCTION IF EXISTS senate.require_positive_amount(text, numeric);
DROP FUNCTION IF EXISTS senate.require_actor(text, text);
DELETE FROM senate.error_codes
WHERE sqlstate IN ('S2001', 'S2002', 'S2003', 'S2004', 'S2005', 'S2006', 'S2007', 'S2008',
                   'S2009', 'S2010', 'S2011', 'S2020', 'S2021', 'S2022', 'S2023', 'S2024',
                   'S2025', 'S2026', 'S2027', 'S2028', 'S2029', 'S2030', 'S2031');
