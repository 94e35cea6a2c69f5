-- Removes only what 0135 added: reserve_queue; senate_report_pending_proposals gets back 0061's
-- reserve_covers (each proposal judged alone) and comments.
SET lock_timeout = '5s';
CREATE OR REPLACE VIEW public.senate_report_pending_proposals AS
SELECT p.id AS proposal_id,
       p.created_at::timestamptz AS filed_at,
       p.entity_type::text AS entity_type,
       p.entity_id::text AS entity_id,
       p.resource_type,
       rt.unit,
       p.requested_tokens::numeric AS requested_amount,
       coalesce(p.proposer_agent::text, p.proposer_id::text) AS proposer,
       t.approvals,
       t.rejections,
       t.abstentions,
       t.quorum,
       t.approvable,
       coalesce(r.balance, 0) >= p.requested_tokens::numeric AS reserve_covers,
       p.justification
FROM public.allocation_proposals AS p
JOIN public.allocation_proposal_tallies AS t ON t.proposal_id = p.id
LEFT JOIN public.resource_types AS rt ON rt.resource_type = p.resource_type
LEFT JOIN public.senate_reserve AS r ON r.resource_type = p.resource_type
WHERE p.status = 'pending'
ORDER BY p.created_at, p.id;
COMMENT ON VIEW public.senate_report_pending_proposals IS
  'Allocation proposals awaiting a decision, oldest first: what is asked for whom, the votes so far '
  'under the proposal''s policy version, whether it could be approved now and whether the reserve '
  'covers it.';
COMMENT ON COLUMN public.senate_report_pending_proposals.reserve_covers IS 'The reserve of the class holds at least the requested amount now.';
DELETE FROM senate.table_access WHERE relation_name = 'public.reserve_queue';
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.reserve_queue;
