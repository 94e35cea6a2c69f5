-- Removes only what 0043 added, and puts back the foreign keys it replaced (when it
-- replaced them: a deployment it left alone gets none).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_trigger
               WHERE tgrelid = 'public.resource_usage'::regclass
                 AND tgname = 't10_check_usage_reference_inserts') THEN
        ALTER TABLE public.resource_usage
            ADD CONSTRAINT resource_usage_entity_type_fkey
                FOREIGN KEY (entity_type) REFERENCES public.entity_types (entity_type),
            ADD CONSTRAINT resource_usage_resource_type_fkey
                FOREIGN KEY (resource_type) REFERENCES public.resource_types (resource_type);
    END IF;
END;
$$;
DROP TRIGGER IF EXISTS t10_check_usage_reference_inserts ON public.resource_usage;
DROP TRIGGER IF EXISTS t10_check_usage_reference_updates ON public.resource_usage;
DROP TRIGGER IF EXISTS t10_refuse_used_entity_type_change ON public.entity_types;
DROP TRIGGER IF EXISTS t10_refuse_used_entity_type_truncate ON public.entity_types;
DROP TRIGGER IF EXISTS t10_refuse_used_resource_type_change ON public.resource_types;
DROP TRIGGER IF EXISTS t10_refuse_used_resource_type_truncate ON public.resource_types;
DROP FUNCTION IF EXISTS senate.refuse_referenced_truncate();
DROP FUNCTION IF EXISTS senate.refuse_referenced_key_change();
DROP FUNCTION IF EXISTS senate.check_usage_references();
