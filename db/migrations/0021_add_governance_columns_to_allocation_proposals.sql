-- Why: governance needs four facts the deployed allocation_proposals table does
-- not hold: which resource class a proposal asks for (the deployed table only
-- knew tokens), which policy version was in force when it was filed (quorum and
-- majority are judged by that version, never by a later one), when a deferred
-- proposal should be revisited, and the reviewer's note on the decision.
--
-- Deployed-table safety: every column is nullable or has a constant default,
-- so ADD COLUMN is a catalog-only change (no rewrite, no scan). Constraints are
-- added NOT VALID (checked for new writes at once; no scan under the ACCESS
-- EXCLUSIVE lock) and validated by migration 0023 in its own transaction.
-- Existing rows are not rewritten: they read resource_type 'llm_tokens' (the
-- only class the deployed table knew) and a NULL policy_version, which
-- governance resolves to the version in force at their created_at.
SET lock_timeout = '5s';

CALL senate.claim('0021', 'column', 'public.allocation_proposals', 'resource_type');
ALTER TABLE public.allocation_proposals
    ADD COLUMN IF NOT EXISTS resource_type text NOT NULL DEFAULT 'llm_tokens';
CALL senate.claim('0021', 'column', 'public.allocation_proposals', 'policy_version');
ALTER TABLE public.allocation_proposals
    ADD COLUMN IF NOT EXISTS policy_version bigint;
CALL senate.claim('0021', 'column', 'public.allocation_proposals', 'revisit_at');
ALTER TABLE public.allocation_proposals
    ADD COLUMN IF NOT EXISTS revisit_at timestamptz;
CALL senate.claim('0021', 'column', 'public.allocation_proposals', 'decision_note');
ALTER TABLE public.allocation_proposals
    ADD COLUMN IF NOT EXISTS decision_note text;

COMMENT ON COLUMN public.allocation_proposals.resource_type IS
  'Resource class requested (see resource_types): llm_tokens (tokens), cpu_seconds '
  '(CPU-seconds), storage_gb_hours (GB-hours) or api_calls (calls). Rows filed before '
  'governance read llm_tokens.';
COMMENT ON COLUMN public.allocation_proposals.policy_version IS
  'economics_policy version in force when the proposal was filed (stamped by trigger, never '
  'changed); quorum and majority are judged by it. NULL on rows filed before governance: '
  'they are judged by the version in force at created_at.';
COMMENT ON COLUMN public.allocation_proposals.revisit_at IS
  'For a deferred proposal: when it is due for review again (see proposals_due_for_review). '
  'NULL in every other state.';
COMMENT ON COLUMN public.allocation_proposals.decision_note IS
  'The reviewer''s note on the latest status change (at most 2000 characters).';

DO $$
BEGIN
    CALL senate.claim('0021', 'constraint', 'public.allocation_proposals', 'allocation_proposals_resource_type_fkey');
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'public.allocation_proposals'::regclass
                     AND conname = 'allocation_proposals_resource_type_fkey') THEN
        ALTER TABLE public.allocation_proposals
            ADD CONSTRAINT allocation_proposals_resource_type_fkey
            FOREIGN KEY (resource_type) REFERENCES public.resource_types (resource_type) NOT VALID;
    END IF;
    CALL senate.claim('0021', 'constraint', 'public.allocation_proposals', 'allocation_proposals_policy_version_fkey');
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'public.allocation_proposals'::regclass
                     AND conname = 'allocation_proposals_policy_version_fkey') THEN
        ALTER TABLE public.allocation_proposals
            ADD CONSTRAINT allocation_proposals_policy_version_fkey
            FOREIGN KEY (policy_version) REFERENCES public.economics_policy (policy_version)
            NOT VALID;
    END IF;
    CALL senate.claim('0021', 'constraint', 'public.allocation_proposals', 'allocation_proposals_decision_note_length');
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'public.allocation_proposals'::regclass
                     AND conname = 'allocation_proposals_decision_note_length') THEN
        ALTER TABLE public.allocation_proposals
            ADD CONSTRAINT allocation_proposals_decision_note_length
            CHECK (length(decision_note) <= 2000) NOT VALID;
    END IF;
END;
$$;
COMMENT ON CONSTRAINT allocation_proposals_resource_type_fkey ON public.allocation_proposals IS
  'The requested resource class must exist in resource_types.';
COMMENT ON CONSTRAINT allocation_proposals_policy_version_fkey ON public.allocation_proposals IS
  'The recorded policy version must exist in economics_policy.';
COMMENT ON CONSTRAINT allocation_proposals_decision_note_length ON public.allocation_proposals IS
  'Decision notes hold at most 2000 characters.';

CALL senate.settle_comments('0021');
