-- Removes only what 0127 added: the vocabulary; the state
-- machine and its log get back the definitions 0127 saved before replacing them.
SET lock_timeout = '5s';
DO $$
BEGIN
    PERFORM senate.restore_definitions('0127');
END;
$$;
DELETE FROM senate.table_access WHERE relation_name = 'senate.proposal_status_vocabulary';
DROP FUNCTION IF EXISTS senate.governance_status(text);
DROP TABLE IF EXISTS senate.proposal_status_vocabulary;
