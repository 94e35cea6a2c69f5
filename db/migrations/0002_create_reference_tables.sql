-- Why: entity kinds, resource classes, model tiers and API providers are data,
-- not schema. Keeping them in reference tables means a new kind of entity, a
-- new model or a new provider is an INSERT, never a migration, and every
-- budget, usage and cost figure can be explained by joining to them.
SET lock_timeout = '5s';

CALL senate.claim('0002', 'table', 'public.entity_types');
CREATE TABLE IF NOT EXISTS public.entity_types (
    entity_type text PRIMARY KEY CHECK (entity_type ~ '^[a-z][a-z0-9_]{0,62}$'),
    description text NOT NULL
);
COMMENT ON TABLE public.entity_types IS
  'Kinds of allocatable objects (hypothesis, knowledge_gap, analysis, entity). '
  'Add a row to introduce a new kind; no schema change needed.';
COMMENT ON COLUMN public.entity_types.entity_type IS 'Kind name, snake_case.';
COMMENT ON COLUMN public.entity_types.description IS 'What objects of this kind are.';

WITH added AS (
    INSERT INTO public.entity_types (entity_type, description) VALUES
  ('hypothesis', 'A scientific hypothesis under investigation.'),
  ('knowledge_gap', 'A gap in the world model that work could close.'),
  ('analysis', 'An analysis run or pipeline producing artifacts.'),
  ('entity', 'A knowledge-graph entity (gene, disease, compound, ...).')
ON CONFLICT (entity_type) DO NOTHING
    RETURNING entity_type)
-- Seed rows written into an adopted table are recorded, so that the rollback removes them.
INSERT INTO senate.schema_registry (migration, object_kind, relation, object_name, key_column, action)
SELECT '0002', 'row', 'public.entity_types', a.entity_type, 'entity_type', 'created' FROM added AS a
WHERE EXISTS (SELECT 1 FROM senate.schema_registry AS g WHERE g.object_kind = 'table'
              AND g.relation = 'public.entity_types' AND g.action = 'adopted')
ON CONFLICT (object_kind, relation, object_name) DO NOTHING;

CALL senate.claim('0002', 'table', 'public.resource_types');
CREATE TABLE IF NOT EXISTS public.resource_types (
    resource_type text PRIMARY KEY CHECK (resource_type ~ '^[a-z][a-z0-9_]{0,62}$'),
    unit          text NOT NULL,
    budget_column text NOT NULL UNIQUE
        CHECK (budget_column IN ('token_budget', 'cpu_budget', 'storage_budget_gb', 'api_call_budget')),
    description   text NOT NULL
);
COMMENT ON TABLE public.resource_types IS
  'The four first-class resource classes the Senate allocates, with their unit and the '
  'resource_budgets column that holds each class''s envelope.';
COMMENT ON COLUMN public.resource_types.resource_type IS 'Resource class name as written in resource_usage.resource_type.';
COMMENT ON COLUMN public.resource_types.unit IS 'Unit of resource_usage.amount for this class (tokens, CPU-seconds, GB-hours, calls).';
COMMENT ON COLUMN public.resource_types.budget_column IS 'Column of resource_budgets holding the envelope for this class.';
COMMENT ON COLUMN public.resource_types.description IS 'What the class pays for.';

WITH added AS (
    INSERT INTO public.resource_types (resource_type, unit, budget_column, description) VALUES
  ('llm_tokens', 'tokens', 'token_budget', 'LLM tokens, budgeted by model tier.'),
  ('cpu_seconds', 'CPU-seconds', 'cpu_budget', 'Local analysis jobs, post-processing, background drivers.'),
  ('storage_gb_hours', 'GB-hours', 'storage_budget_gb', 'Notebooks, figures, artifacts and cached intermediates.'),
  ('api_calls', 'calls', 'api_call_budget', 'External providers: PubMed, Semantic Scholar, OpenAlex, Crossref, others.')
ON CONFLICT (resource_type) DO NOTHING
    RETURNING resource_type)
-- Seed rows written into an adopted table are recorded, so that the rollback removes them.
INSERT INTO senate.schema_registry (migration, object_kind, relation, object_name, key_column, action)
SELECT '0002', 'row', 'public.resource_types', a.resource_type, 'resource_type', 'created' FROM added AS a
WHERE EXISTS (SELECT 1 FROM senate.schema_registry AS g WHERE g.object_kind = 'table'
              AND g.relation = 'public.resource_types' AND g.action = 'adopted')
ON CONFLICT (object_kind, relation, object_name) DO NOTHING;

CALL senate.claim('0002', 'table', 'public.model_tiers');
CREATE TABLE IF NOT EXISTS public.model_tiers (
    model_tier  text PRIMARY KEY CHECK (model_tier ~ '^[a-z][a-z0-9_]{0,62}$'),
    description text NOT NULL
);
COMMENT ON TABLE public.model_tiers IS
  'LLM model tiers. Token budgets are kept per tier so that expensive reasoning models '
  'and cheap batch models never share one pool.';
COMMENT ON COLUMN public.model_tiers.model_tier IS 'Tier name (reasoning, standard, batch, ...).';
COMMENT ON COLUMN public.model_tiers.description IS 'What the tier is used for.';

WITH added AS (
    INSERT INTO public.model_tiers (model_tier, description) VALUES
  ('reasoning', 'Expensive frontier reasoning models.'),
  ('standard', 'General-purpose models.'),
  ('batch', 'Cheap models for bulk and batch work.')
ON CONFLICT (model_tier) DO NOTHING
    RETURNING model_tier)
-- Seed rows written into an adopted table are recorded, so that the rollback removes them.
INSERT INTO senate.schema_registry (migration, object_kind, relation, object_name, key_column, action)
SELECT '0002', 'row', 'public.model_tiers', a.model_tier, 'model_tier', 'created' FROM added AS a
WHERE EXISTS (SELECT 1 FROM senate.schema_registry AS g WHERE g.object_kind = 'table'
              AND g.relation = 'public.model_tiers' AND g.action = 'adopted')
ON CONFLICT (object_kind, relation, object_name) DO NOTHING;

CALL senate.claim('0002', 'table', 'public.llm_models');
CREATE TABLE IF NOT EXISTS public.llm_models (
    model          text PRIMARY KEY CHECK (length(model) BETWEEN 1 AND 200),
    model_tier     text NOT NULL REFERENCES public.model_tiers (model_tier),
    usd_per_token  numeric NOT NULL CHECK (usd_per_token >= 0 AND usd_per_token < 1)
);
COMMENT ON TABLE public.llm_models IS 'Maps each LLM model name (as written in resource_usage.model) to its tier and per-token cost.';
COMMENT ON COLUMN public.llm_models.model IS 'Model name as services write it in resource_usage.model.';
COMMENT ON COLUMN public.llm_models.model_tier IS 'Tier whose token pool this model draws from.';
COMMENT ON COLUMN public.llm_models.usd_per_token IS 'Blended cost in USD per token, used when a usage row carries no cost.';
CALL senate.claim('0002', 'index', 'public.llm_models_model_tier_idx');
CREATE INDEX IF NOT EXISTS llm_models_model_tier_idx ON public.llm_models (model_tier);

WITH added AS (
    INSERT INTO public.llm_models (model, model_tier, usd_per_token) VALUES
  ('claude-opus', 'reasoning', 0.000045),
  ('gpt-reasoning', 'reasoning', 0.000040),
  ('claude-sonnet', 'standard', 0.000009),
  ('gpt-standard', 'standard', 0.000006),
  ('claude-haiku', 'batch', 0.000001),
  ('open-batch', 'batch', 0.0000004)
ON CONFLICT (model) DO NOTHING
    RETURNING model)
-- Seed rows written into an adopted table are recorded, so that the rollback removes them.
INSERT INTO senate.schema_registry (migration, object_kind, relation, object_name, key_column, action)
SELECT '0002', 'row', 'public.llm_models', a.model, 'model', 'created' FROM added AS a
WHERE EXISTS (SELECT 1 FROM senate.schema_registry AS g WHERE g.object_kind = 'table'
              AND g.relation = 'public.llm_models' AND g.action = 'adopted')
ON CONFLICT (object_kind, relation, object_name) DO NOTHING;

CALL senate.claim('0002', 'table', 'public.api_providers');
CREATE TABLE IF NOT EXISTS public.api_providers (
    provider      text PRIMARY KEY CHECK (provider ~ '^[a-z][a-z0-9_]{0,62}$'),
    usd_per_call  numeric NOT NULL CHECK (usd_per_call >= 0 AND usd_per_call < 100),
    description   text NOT NULL
);
COMMENT ON TABLE public.api_providers IS 'External API providers and their per-call cost.';
COMMENT ON COLUMN public.api_providers.provider IS 'Provider name as written in resource_usage.provider.';
COMMENT ON COLUMN public.api_providers.usd_per_call IS 'Cost in USD per call, used when a usage row carries no cost.';
COMMENT ON COLUMN public.api_providers.description IS 'What the provider serves.';

WITH added AS (
    INSERT INTO public.api_providers (provider, usd_per_call, description) VALUES
  ('pubmed', 0, 'NCBI PubMed E-utilities.'),
  ('semantic_scholar', 0.0005, 'Semantic Scholar Graph API.'),
  ('openalex', 0, 'OpenAlex works and authors API.'),
  ('crossref', 0, 'Crossref metadata API.'),
  ('other', 0.001, 'Any other external provider.')
ON CONFLICT (provider) DO NOTHING
    RETURNING provider)
-- Seed rows written into an adopted table are recorded, so that the rollback removes them.
INSERT INTO senate.schema_registry (migration, object_kind, relation, object_name, key_column, action)
SELECT '0002', 'row', 'public.api_providers', a.provider, 'provider', 'created' FROM added AS a
WHERE EXISTS (SELECT 1 FROM senate.schema_registry AS g WHERE g.object_kind = 'table'
              AND g.relation = 'public.api_providers' AND g.action = 'adopted')
ON CONFLICT (object_kind, relation, object_name) DO NOTHING;

CALL senate.settle_comments('0002');
