-- Removes only what 0002 added.
DROP TABLE IF EXISTS public.api_providers;
DROP TABLE IF EXISTS public.llm_models;
DROP TABLE IF EXISTS public.model_tiers;
DROP TABLE IF EXISTS public.resource_types;
DROP TABLE IF EXISTS public.entity_types;
