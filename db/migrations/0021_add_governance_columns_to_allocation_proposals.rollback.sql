-- Undoing 0021 means dropping the constraints it added; no client predates them.
-- squawk-ignore-file ban-drop-constraint
-- Removes only what 0021 added: its constraints and its four columns (their
-- values were written by governance, never by the deployed consumers).
ALTER TABLE public.allocation_proposals
    DROP CONSTRAINT IF EXISTS allocation_proposals_decision_note_length,
    DROP CONSTRAINT IF EXISTS allocation_proposals_policy_version_fkey,
    DROP CONSTRAINT IF EXISTS allocation_proposals_resource_type_fkey;
ALTER TABLE public.allocation_proposals
    DROP COLUMN IF EXISTS decision_note,
    DROP COLUMN IF EXISTS revisit_at,
    DROP COLUMN IF EXISTS policy_version,
    DROP COLUMN IF EXISTS resource_type;
