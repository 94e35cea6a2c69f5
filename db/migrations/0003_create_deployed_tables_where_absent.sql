-- Why: the live deployment already holds broader versions of resource_usage
-- and allocation_proposals, with consumers that read and write their canonical
-- columns (amount, created_at, requested_tokens, proposer_id, proposer_agent).
-- On a fresh install this creates them with those columns; on a deployment
-- where they exist, CREATE TABLE IF NOT EXISTS adopts them (recorded in
-- senate.schema_registry; the rollback never drops them) and leaves their columns,
-- types, indexes, triggers, rows and comments as they are.
--
-- Only the columns the spec names are required of a deployment: resource_usage
-- entity_type, entity_id, resource_type, amount, cost, model, created_at;
-- allocation_proposals entity_type, entity_id, requested_tokens, proposer_id or
-- proposer_agent, justification, evidence, status (0001 refuses a deployment lacking one,
-- S0011). The other columns of the fresh-install tables (artifact_type, artifact_id,
-- analysis_id, task_id, metadata; the other of proposer_id / proposer_agent, reviewer,
-- decided_at, created_at, updated_at) are optional: a deployment lacking one gets it
-- here as a nullable, catalog-only column the project created (so the functions that
-- read it work), and the rollback removes exactly those. Comments go only on what the
-- project created or what had none (senate.settle_comments puts the deployment's back).
-- Columns this project needs beyond those are added by later migrations, one concern each.
SET lock_timeout = '5s';

CALL senate.claim('0003', 'table', 'public.resource_usage');
CREATE TABLE IF NOT EXISTS public.resource_usage (
    id             bigserial PRIMARY KEY,
    entity_type    text NOT NULL REFERENCES public.entity_types (entity_type),
    entity_id      text NOT NULL CHECK (length(entity_id) BETWEEN 1 AND 200),
    resource_type  text NOT NULL REFERENCES public.resource_types (resource_type),
    amount         numeric NOT NULL
        CHECK (amount NOT IN ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric)),
    cost           numeric
        CHECK (cost >= 0 AND cost NOT IN ('NaN'::numeric, 'Infinity'::numeric)),
    model          text CHECK (length(model) BETWEEN 1 AND 200),
    artifact_type  text CHECK (length(artifact_type) <= 200),
    artifact_id    text CHECK (length(artifact_id) <= 200),
    analysis_id    text CHECK (length(analysis_id) <= 200),
    task_id        text CHECK (length(task_id) <= 200),
    created_at     timestamptz NOT NULL DEFAULT now(),
    metadata       jsonb NOT NULL DEFAULT '{}'::jsonb
);
-- Optional columns a deployment may lack: added (catalog-only, no rewrite) and recorded.
CALL senate.claim('0003', 'column', 'public.resource_usage', 'artifact_type');
ALTER TABLE public.resource_usage ADD COLUMN IF NOT EXISTS artifact_type text;
CALL senate.claim('0003', 'column', 'public.resource_usage', 'artifact_id');
ALTER TABLE public.resource_usage ADD COLUMN IF NOT EXISTS artifact_id text;
CALL senate.claim('0003', 'column', 'public.resource_usage', 'analysis_id');
ALTER TABLE public.resource_usage ADD COLUMN IF NOT EXISTS analysis_id text;
CALL senate.claim('0003', 'column', 'public.resource_usage', 'task_id');
ALTER TABLE public.resource_usage ADD COLUMN IF NOT EXISTS task_id text;
CALL senate.claim('0003', 'column', 'public.resource_usage', 'metadata');
ALTER TABLE public.resource_usage ADD COLUMN IF NOT EXISTS metadata jsonb DEFAULT '{}'::jsonb;

COMMENT ON TABLE public.resource_usage IS
  'Append-only accounting of every concrete execution: one row per spend. Budgets are '
  'the control surface (resource_budgets); this table is the record of what was used.';
COMMENT ON COLUMN public.resource_usage.id IS 'Surrogate key.';
COMMENT ON COLUMN public.resource_usage.entity_type IS 'Kind of object the spend served (see entity_types).';
COMMENT ON COLUMN public.resource_usage.entity_id IS 'Identifier of the object the spend served.';
COMMENT ON COLUMN public.resource_usage.resource_type IS 'Resource class (see resource_types): llm_tokens, cpu_seconds, storage_gb_hours, api_calls.';
COMMENT ON COLUMN public.resource_usage.amount IS 'Canonical amount used, in the unit of the resource class (tokens, CPU-seconds, GB-hours, calls).';
COMMENT ON COLUMN public.resource_usage.cost IS 'Cost of this spend in USD; NULL means priced from llm_models or api_providers.';
COMMENT ON COLUMN public.resource_usage.model IS 'LLM model name for llm_tokens rows (see llm_models).';
COMMENT ON COLUMN public.resource_usage.artifact_type IS 'Kind of artifact the spend produced (notebook, figure, ...), if any.';
COMMENT ON COLUMN public.resource_usage.artifact_id IS 'Identifier of the artifact the spend produced, if any.';
COMMENT ON COLUMN public.resource_usage.analysis_id IS 'Analysis the spend served, if any.';
COMMENT ON COLUMN public.resource_usage.task_id IS 'Task the spend served, if any.';
COMMENT ON COLUMN public.resource_usage.created_at IS 'Canonical time of the spend.';
COMMENT ON COLUMN public.resource_usage.metadata IS 'Free-form context from the writer (JSON object).';

-- On a table that holds rows a plain CREATE INDEX would block its writers for the whole build:
-- there 0130 builds it CONCURRENTLY instead (issue 14 point 10); here only an empty table (a
-- fresh install, instant) or an index the deployment already has.
DO $$
BEGIN
    IF to_regclass('public.resource_usage_entity_created_idx') IS NOT NULL
       OR NOT EXISTS (SELECT 1 FROM public.resource_usage) THEN
        CALL senate.claim('0003', 'index', 'public.resource_usage_entity_created_idx');
        CREATE INDEX IF NOT EXISTS resource_usage_entity_created_idx
            ON public.resource_usage (entity_type, entity_id, created_at);
    END IF;
END;
$$;

CALL senate.claim('0003', 'table', 'public.allocation_proposals');
CREATE TABLE IF NOT EXISTS public.allocation_proposals (
    id                bigserial PRIMARY KEY,
    entity_type       text NOT NULL REFERENCES public.entity_types (entity_type),
    entity_id         text NOT NULL CHECK (length(entity_id) BETWEEN 1 AND 200),
    requested_tokens  numeric NOT NULL
        CHECK (requested_tokens > 0 AND requested_tokens NOT IN ('NaN'::numeric, 'Infinity'::numeric)),
    proposer_id       text CHECK (length(proposer_id) BETWEEN 1 AND 200),
    proposer_agent    text CHECK (length(proposer_agent) BETWEEN 1 AND 200),
    justification     text NOT NULL CHECK (length(justification) <= 20000),
    evidence          jsonb NOT NULL DEFAULT '{}'::jsonb,
    status            text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'rejected', 'deferred')),
    reviewer          text CHECK (length(reviewer) BETWEEN 1 AND 200),
    decided_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
-- Optional columns a deployment may lack: added (catalog-only, no rewrite) and recorded.
CALL senate.claim('0003', 'column', 'public.allocation_proposals', 'proposer_id');
ALTER TABLE public.allocation_proposals ADD COLUMN IF NOT EXISTS proposer_id text;
CALL senate.claim('0003', 'column', 'public.allocation_proposals', 'proposer_agent');
ALTER TABLE public.allocation_proposals ADD COLUMN IF NOT EXISTS proposer_agent text;
CALL senate.claim('0003', 'column', 'public.allocation_proposals', 'reviewer');
ALTER TABLE public.allocation_proposals ADD COLUMN IF NOT EXISTS reviewer text;
CALL senate.claim('0003', 'column', 'public.allocation_proposals', 'decided_at');
ALTER TABLE public.allocation_proposals ADD COLUMN IF NOT EXISTS decided_at timestamptz;
CALL senate.claim('0003', 'column', 'public.allocation_proposals', 'created_at');
ALTER TABLE public.allocation_proposals ADD COLUMN IF NOT EXISTS created_at timestamptz DEFAULT now();
CALL senate.claim('0003', 'column', 'public.allocation_proposals', 'updated_at');
ALTER TABLE public.allocation_proposals ADD COLUMN IF NOT EXISTS updated_at timestamptz DEFAULT now();

COMMENT ON TABLE public.allocation_proposals IS
  'Requests for more resources for an entity, with evidence-based justification; '
  'reviewed by the Senate (pending -> approved | rejected | deferred).';
COMMENT ON COLUMN public.allocation_proposals.id IS 'Surrogate key.';
COMMENT ON COLUMN public.allocation_proposals.entity_type IS 'Kind of object the request is for (see entity_types).';
COMMENT ON COLUMN public.allocation_proposals.entity_id IS 'Identifier of the object the request is for.';
COMMENT ON COLUMN public.allocation_proposals.requested_tokens IS 'Canonical requested amount (tokens for llm_tokens requests; the unit of the requested resource class otherwise).';
COMMENT ON COLUMN public.allocation_proposals.proposer_id IS 'Identifier of the proposing user, if a user filed it.';
COMMENT ON COLUMN public.allocation_proposals.proposer_agent IS 'Name of the proposing agent, if an agent filed it.';
COMMENT ON COLUMN public.allocation_proposals.justification IS 'Why the spend is worth it, linked to expected world-model gain.';
COMMENT ON COLUMN public.allocation_proposals.evidence IS 'Evidence backing the request (JSON object: pmids, market_confidence_delta, kg_edges_gained, benchmark_results, gap_resolution_progress, expected_kg_edges).';
COMMENT ON COLUMN public.allocation_proposals.status IS 'Review state: pending, approved, rejected or deferred.';
COMMENT ON COLUMN public.allocation_proposals.reviewer IS 'Who recorded the decision.';
COMMENT ON COLUMN public.allocation_proposals.decided_at IS 'When the decision was recorded.';
COMMENT ON COLUMN public.allocation_proposals.created_at IS 'When the proposal was filed.';
COMMENT ON COLUMN public.allocation_proposals.updated_at IS 'When the proposal last changed.';

CALL senate.claim('0003', 'index', 'public.allocation_proposals_status_idx');
CREATE INDEX IF NOT EXISTS allocation_proposals_status_idx
    ON public.allocation_proposals (status, created_at);
CALL senate.claim('0003', 'index', 'public.allocation_proposals_entity_idx');
CREATE INDEX IF NOT EXISTS allocation_proposals_entity_idx
    ON public.allocation_proposals (entity_type, entity_id);

CALL senate.settle_comments('0003');
