-- Why: 0021 added its constraints NOT VALID so that adding them to the
-- deployed allocation_proposals table never scanned it under an ACCESS
-- EXCLUSIVE lock. Validating them here, in a separate transaction, takes only
-- SHARE UPDATE EXCLUSIVE (reads and writes continue) and lets the planner and
-- pg_dump treat them as ordinary constraints. Existing rows pass by
-- construction: resource_type defaults to 'llm_tokens', the other columns
-- are NULL.
SET lock_timeout = '5s';

ALTER TABLE public.allocation_proposals
    VALIDATE CONSTRAINT allocation_proposals_resource_type_fkey;
ALTER TABLE public.allocation_proposals
    VALIDATE CONSTRAINT allocation_proposals_policy_version_fkey;
ALTER TABLE public.allocation_proposals
    VALIDATE CONSTRAINT allocation_proposals_decision_note_length;
