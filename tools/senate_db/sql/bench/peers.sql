-- senate-db bench: the peers' designs, built beside the bare table on the same data and
-- measured with the same writers (issue 20 point 1; format: setup.sql).
--
-- (a) LiteLLM: every request writes a spend-log row and increments the spend counter of its
--     key / team / user in the same transaction (BerriAI/litellm: LiteLLM_SpendLogs and the
--     `spend` columns). Here: a spend log shaped like the bare table, and one counter row per
--     entity, updated by the writer's own statement.
-- (b) The spec's deployment: the budget check sums the usage table's rows of the period, with
--     the best index for that sum (covering, so an index-only scan reads one range).

-- name: create_peer_tables
CREATE TABLE bench.peer_spend_log (LIKE public.resource_usage
                                   INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
ALTER TABLE bench.peer_spend_log ALTER COLUMN id SET DEFAULT nextval('bench.bare_id_seq');
COMMENT ON TABLE bench.peer_spend_log IS
    'Peer design (LiteLLM): the spend log, a bare copy of resource_usage (no trigger).';
CREATE TABLE bench.peer_spend_counters (
    entity_type text NOT NULL,
    entity_id   text NOT NULL,
    spend       numeric NOT NULL DEFAULT 0,
    updated_at  timestamptz,
    PRIMARY KEY (entity_type, entity_id)
);
COMMENT ON TABLE bench.peer_spend_counters IS
    'Peer design (LiteLLM): one spend counter row per entity, incremented by every write.';
COMMENT ON COLUMN bench.peer_spend_counters.spend IS
    'Sum of the amounts the entity''s spend-log rows carry (unit of each row''s class).';
COMMENT ON COLUMN bench.peer_spend_counters.updated_at IS 'When the last write incremented it.';

-- name: peer_spend_row
-- One spend-log row and the increment of its entity's counter, in one statement (so one
-- transaction and one round trip, as our single-row INSERT: the peer's best case).
WITH logged AS (
    INSERT INTO bench.peer_spend_log (entity_type, entity_id, resource_type, amount, model,
                                      provider)
    VALUES (%s, %s, %s, %s, %s, %s)
    RETURNING entity_type, entity_id, amount
)
UPDATE bench.peer_spend_counters AS c
SET spend = c.spend + logged.amount, updated_at = now()
FROM logged
WHERE c.entity_type = logged.entity_type AND c.entity_id = logged.entity_id

-- name: open_peer_counters
-- A zero counter for each entity (types, ids) that has none: LiteLLM's keys, teams and users
-- exist before they spend. Not timed.
INSERT INTO bench.peer_spend_counters (entity_type, entity_id)
SELECT DISTINCT e.entity_type, e.entity_id
FROM unnest(%s::text[], %s::text[]) AS e (entity_type, entity_id)
ON CONFLICT DO NOTHING

-- name: peer_counter_mismatches
-- Entities whose counter differs from the sum of their spend-log rows (0: every write
-- incremented its counter), and the spend-log rows.
SELECT count(*) FILTER (WHERE coalesce(l.total, 0) <> coalesce(c.spend, 0)),
       (SELECT count(*) FROM bench.peer_spend_log)
FROM (SELECT entity_type, entity_id, sum(amount) AS total
      FROM bench.peer_spend_log GROUP BY entity_type, entity_id) AS l
FULL JOIN bench.peer_spend_counters AS c USING (entity_type, entity_id)

-- name: create_peer_check_index
-- (b)'s index: the sum of one entity's rows of one class in the period is one range of it,
-- read by an index-only scan once the table is vacuumed (what autovacuum does to an
-- append-only table).
CREATE INDEX bench_peer_check_idx ON public.resource_usage
    (entity_type, entity_id, resource_type, created_at) INCLUDE (amount)

-- name: vacuum_usage
-- Sets the visibility map, so that (b)'s sums are index-only scans (VACUUM runs alone: not in
-- a transaction block).
VACUUM (ANALYZE) public.resource_usage

-- name: drop_peer_check_index
DROP INDEX public.bench_peer_check_idx

-- name: peer_check_one_class
-- (b) as can_spend's peer: may the entity spend 1000 tokens? Its token budget less the sum of
-- its token rows of the current budget period.
SELECT b.token_budget - coalesce(s.spent, 0) >= 1000 AS allowed,
       b.token_budget - coalesce(s.spent, 0) AS remaining
FROM public.resource_budgets AS b
CROSS JOIN public.budget_period_bounds(now()) AS p
CROSS JOIN LATERAL (
    SELECT sum(u.amount) AS spent
    FROM public.resource_usage AS u
    WHERE u.entity_type = b.entity_type AND u.entity_id = b.entity_id
      AND u.resource_type = 'llm_tokens'
      AND u.created_at >= p.starts_at AND u.created_at < p.ends_at
) AS s
WHERE b.entity_type = {entity_type} AND b.entity_id = {entity_id}

-- name: peer_check_every_class
-- (b) as budget_status's peer: the entity's budget, spend and remaining per class this period,
-- each class summed over its rows.
SELECT c.resource_type, c.budget, coalesce(s.spent, 0) AS spent,
       c.budget - coalesce(s.spent, 0) AS remaining
FROM public.resource_budgets AS b
CROSS JOIN public.budget_period_bounds(now()) AS p
CROSS JOIN LATERAL (VALUES ('llm_tokens', b.token_budget), ('cpu_seconds', b.cpu_budget),
                           ('storage_gb_hours', b.storage_budget_gb),
                           ('api_calls', b.api_call_budget)) AS c (resource_type, budget)
CROSS JOIN LATERAL (
    SELECT sum(u.amount) AS spent
    FROM public.resource_usage AS u
    WHERE u.entity_type = b.entity_type AND u.entity_id = b.entity_id
      AND u.resource_type = c.resource_type
      AND u.created_at >= p.starts_at AND u.created_at < p.ends_at
) AS s
WHERE b.entity_type = {entity_type} AND b.entity_id = {entity_id}

-- name: peer_rows_summed
-- How many usage rows (b)'s one-class check sums right now: the entity's token rows of the
-- current period.
SELECT count(*)
FROM public.resource_usage AS u
CROSS JOIN public.budget_period_bounds(now()) AS p
WHERE u.entity_type = %s AND u.entity_id = %s AND u.resource_type = 'llm_tokens'
  AND u.created_at >= p.starts_at AND u.created_at < p.ends_at
