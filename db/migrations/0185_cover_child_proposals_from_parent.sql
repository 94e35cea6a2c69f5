-- Why (issue 19, point 5 "Governance and legacy"): a proposal for a child may be covered by
-- its parent's unallocated budget before the reserve. senate.apply_approved_proposal
-- (db/definitions/70_governance.sql) now carves min(requested, the parent's base budget minus
-- its direct children's) out of the parent's envelope (the child's envelope grows, the
-- parent's is unchanged and still caps the subtree; ledger cause proposal_carve_out) and draws
-- only the rest from the reserve (cause proposal_approval, as before). An entity without a
-- parent, and so a deployment with no tree, sees no change. public.allocation_proposal_coverage
-- (same file) shows per approved proposal what the parent and the reserve covered; this
-- migration registers its grants. No table changes.
SET lock_timeout = '5s';

INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('public.allocation_proposal_coverage', 'senate_reader', 'SELECT'),
  ('public.allocation_proposal_coverage', 'senate_owner', 'SELECT')
ON CONFLICT DO NOTHING;

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
