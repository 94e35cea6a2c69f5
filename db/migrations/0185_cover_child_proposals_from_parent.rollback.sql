-- Removes only what 0185 added: the allocation_proposal_coverage view and its grants. The
-- approval's body is a definition: installing the previous release's files restores it.
SET lock_timeout = '5s';
DELETE FROM senate.table_access WHERE relation_name = 'public.allocation_proposal_coverage';
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.allocation_proposal_coverage;
