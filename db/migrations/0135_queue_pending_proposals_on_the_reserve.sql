-- Why (issue 16, points 4 and 6): senate_report_pending_proposals.reserve_covers judged each
-- pending proposal alone against the whole reserve, so two proposals could each read "covered"
-- while the reserve pays for only one of them: an approval debits the reserve of its class
-- (S2029 when it no longer holds the amount), so pending proposals draw on one balance together.
--
-- reserve_queue judges them together, first filed, first paid: per resource class, pending
-- proposals in filing order (created_at, then id: the order senate_report_pending_proposals and
-- the Senate's sessions take them in), with the running total requested and whether the reserve
-- covers each one after every earlier one of its class is paid (covers_in_queue), next to the
-- old judgement alone (covers_alone). senate_report_pending_proposals.reserve_covers now means
-- covers_in_queue (same column, same type; the report shows it as "covered").
SET lock_timeout = '5s';

CREATE OR REPLACE VIEW public.reserve_queue AS
WITH pending AS (
    SELECT p.id AS proposal_id,
           p.created_at::timestamptz AS filed_at,
           p.entity_type::text AS entity_type,
           p.entity_id::text AS entity_id,
           p.resource_type,
           p.requested_tokens::numeric AS requested_amount
    FROM public.allocation_proposals AS p
    WHERE p.status = 'pending'
), queued AS (
    SELECT q.*,
           row_number() OVER w AS queue_position,
           sum(q.requested_amount) OVER w AS requested_through
    FROM pending AS q
    WINDOW w AS (PARTITION BY q.resource_type ORDER BY q.filed_at, q.proposal_id
                 ROWS UNBOUNDED PRECEDING)
)
SELECT q.resource_type,
       q.queue_position,
       q.proposal_id,
       q.filed_at,
       q.entity_type,
       q.entity_id,
       rt.unit,
       q.requested_amount,
       q.requested_through - q.requested_amount AS requested_before,
       q.requested_through,
       coalesce(r.balance, 0) AS reserve_balance,
       coalesce(r.balance, 0) - q.requested_through AS reserve_after,
       coalesce(r.balance, 0) >= q.requested_amount AS covers_alone,
       coalesce(r.balance, 0) >= q.requested_through AS covers_in_queue,
       t.approvable
FROM queued AS q
LEFT JOIN public.senate_reserve AS r ON r.resource_type = q.resource_type
LEFT JOIN public.resource_types AS rt ON rt.resource_type = q.resource_type
LEFT JOIN public.allocation_proposal_tallies AS t ON t.proposal_id = q.proposal_id
ORDER BY q.resource_type, q.queue_position;
COMMENT ON VIEW public.reserve_queue IS
  'Which pending proposals the Senate reserve can pay for, together and in order: per resource '
  'class, pending proposals first filed, first paid (created_at, then id), each with the running '
  'total requested and whether the reserve covers it after every earlier pending proposal of its '
  'class is paid (covers_in_queue) or on its own (covers_alone). An approval debits the reserve of '
  'its class, so only covers_in_queue says what the reserve can pay for all at once.';
COMMENT ON COLUMN public.reserve_queue.resource_type IS 'Resource class requested (each class has its own reserve and queue).';
COMMENT ON COLUMN public.reserve_queue.queue_position IS 'Place in the class''s queue, 1 = filed first.';
COMMENT ON COLUMN public.reserve_queue.proposal_id IS 'The proposal.';
COMMENT ON COLUMN public.reserve_queue.filed_at IS 'When it was filed (the queue order).';
COMMENT ON COLUMN public.reserve_queue.entity_type IS 'Kind of entity it is for.';
COMMENT ON COLUMN public.reserve_queue.entity_id IS 'Entity it is for.';
COMMENT ON COLUMN public.reserve_queue.unit IS 'Unit of the amounts: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.reserve_queue.requested_amount IS 'Amount requested, in unit.';
COMMENT ON COLUMN public.reserve_queue.requested_before IS 'Sum requested by the pending proposals of the class filed before it, in unit.';
COMMENT ON COLUMN public.reserve_queue.requested_through IS 'Running total: requested_before + requested_amount, in unit.';
COMMENT ON COLUMN public.reserve_queue.reserve_balance IS 'Reserve balance of the class now, in unit.';
COMMENT ON COLUMN public.reserve_queue.reserve_after IS 'reserve_balance - requested_through, in unit: what would be left once it and every earlier one are paid (negative: the shortfall).';
COMMENT ON COLUMN public.reserve_queue.covers_alone IS 'The reserve holds at least requested_amount (judged alone).';
COMMENT ON COLUMN public.reserve_queue.covers_in_queue IS 'The reserve holds at least requested_through: it can pay for this proposal after every earlier pending one of its class.';
COMMENT ON COLUMN public.reserve_queue.approvable IS 'Quorum met and more approve than reject votes (allocation_proposal_tallies).';

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
       coalesce(q.covers_in_queue, false) AS reserve_covers,
       p.justification
FROM public.allocation_proposals AS p
JOIN public.allocation_proposal_tallies AS t ON t.proposal_id = p.id
LEFT JOIN public.resource_types AS rt ON rt.resource_type = p.resource_type
LEFT JOIN public.reserve_queue AS q ON q.proposal_id = p.id
WHERE p.status = 'pending'
ORDER BY p.created_at, p.id;
COMMENT ON VIEW public.senate_report_pending_proposals IS
  'Allocation proposals awaiting a decision, oldest first: what is asked for whom, the votes so far '
  'under the proposal''s policy version, whether it could be approved now and whether the reserve '
  'covers it together with the pending proposals of its class filed before it (reserve_queue).';
COMMENT ON COLUMN public.senate_report_pending_proposals.reserve_covers IS
  'The reserve of the class covers it after every earlier pending proposal of the class is paid '
  '(reserve_queue.covers_in_queue; first filed, first paid).';

INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('public.reserve_queue', 'senate_reader', 'SELECT'),
  ('public.reserve_queue', 'senate_owner', 'SELECT')
ON CONFLICT DO NOTHING;

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
