-- Why: the spec makes the justification requirement "intentionally strict": a
-- resource increase is valid only when the proposer links the requested spend
-- to expected world-model gain. One function states the rule; the filing
-- function applies it before writing anything, and a trigger applies it to
-- every other write path (a service INSERTing directly, an UPDATE of the
-- evidence), so no path files an ungrounded proposal.
--
-- The rule: justification not blank (at most 20000 characters); evidence a
-- JSON object (at most 100000 bytes) grounding the request in at least one of
--   pmids                    non-empty array of PubMed IDs as digit strings
--   market_confidence_delta  number
--   kg_edges_gained          number > 0 (observed KG yield)
--   benchmark_results        non-empty array of objects with a name and a value
--   gap_resolution_progress  number in (0, 1]
-- (every one of these that is present must be well-formed), and stating
--   expected_kg_edges        number > 0 (expected world-model gain).
-- Other keys are allowed (context for reviewers).
--
-- Legacy writers: a deployment whose old consumers still write proposals the
-- way they did before governance can set senate.legacy_proposal_writes = on
-- for those consumers' role only (ALTER ROLE ... SET). Their INSERTs and
-- evidence rewrites then skip this rule, and their direct approvals are
-- recorded without moving any budget (0028), exactly what an approval meant
-- before budgets existed. file_allocation_proposal() checks the rule itself
-- and decide_allocation_proposal() runs with the setting off: a governance
-- approval re-checks this rule, so an ungrounded proposal can never move a
-- budget.
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION senate.is_json_number_in(v jsonb, p_above numeric, p_at_most numeric)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'number'
                THEN (v #>> '{}')::numeric > p_above
                     AND (p_at_most IS NULL OR (v #>> '{}')::numeric <= p_at_most)
                ELSE false END
$$;
COMMENT ON FUNCTION senate.is_json_number_in(jsonb, numeric, numeric) IS
  'True when v is a JSON number greater than p_above and (unless p_at_most is NULL) at most '
  'p_at_most; false for any other JSON value or NULL.';

CREATE OR REPLACE FUNCTION senate.check_proposal_evidence(p_justification text, p_evidence jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c_grounds CONSTANT text[] := ARRAY['pmids', 'market_confidence_delta', 'kg_edges_gained',
                                       'benchmark_results', 'gap_resolution_progress'];
    v jsonb;
BEGIN
    IF p_justification IS NULL OR btrim(p_justification, E' \t\n\r\f\v') = '' THEN
        PERFORM senate.raise_error('S2001',
            format('justification is %s: explain how the spend leads to world-model gain',
                   CASE WHEN p_justification IS NULL THEN 'missing' ELSE 'blank' END));
    END IF;
    IF length(p_justification) > 20000 THEN
        PERFORM senate.raise_error('S2001',
            format('justification holds %s characters; at most 20000 are allowed',
                   length(p_justification)));
    END IF;

    IF p_evidence IS NULL OR jsonb_typeof(p_evidence) <> 'object' THEN
        PERFORM senate.raise_error('S2002',
            format('evidence must be a JSON object, got %s',
                   coalesce(jsonb_typeof(p_evidence), 'NULL')));
    END IF;
    IF octet_length(p_evidence::text) > 100000 THEN
        PERFORM senate.raise_error('S2011',
            format('evidence holds %s bytes of JSON; at most 100000 are allowed',
                   octet_length(p_evidence::text)));
    END IF;
    IF NOT p_evidence ?| c_grounds THEN
        PERFORM senate.raise_error('S2003',
            format('evidence names none of %s (keys given: %s)',
                   array_to_string(c_grounds, ', '),
                   coalesce((SELECT string_agg(k, ', ' ORDER BY k)
                             FROM jsonb_object_keys(p_evidence) AS k), 'none')));
    END IF;

    IF p_evidence ? 'pmids' THEN
        v := p_evidence -> 'pmids';
        IF jsonb_typeof(v) <> 'array' THEN
            PERFORM senate.raise_error('S2004',
                format('evidence.pmids must be an array of PubMed IDs, got %s', left(v::text, 200)));
        ELSIF jsonb_array_length(v) = 0 THEN
            PERFORM senate.raise_error('S2004', 'evidence.pmids is an empty array');
        ELSIF EXISTS (SELECT 1 FROM jsonb_array_elements(v) AS e
                      WHERE jsonb_typeof(e) <> 'string' OR (e #>> '{}') !~ '^[0-9]{1,10}$') THEN
            PERFORM senate.raise_error('S2004',
                format('evidence.pmids must hold PubMed IDs as digit strings, got %s',
                       left(v::text, 200)));
        END IF;
    END IF;

    IF p_evidence ? 'market_confidence_delta' THEN
        v := p_evidence -> 'market_confidence_delta';
        IF jsonb_typeof(v) <> 'number' THEN
            PERFORM senate.raise_error('S2004',
                format('evidence.market_confidence_delta must be a number, got %s',
                       left(v::text, 200)));
        END IF;
    END IF;

    IF p_evidence ? 'kg_edges_gained' THEN
        v := p_evidence -> 'kg_edges_gained';
        IF NOT senate.is_json_number_in(v, 0, NULL) THEN
            PERFORM senate.raise_error('S2004',
                format('evidence.kg_edges_gained must be a number > 0, got %s', left(v::text, 200)));
        END IF;
    END IF;

    IF p_evidence ? 'benchmark_results' THEN
        v := p_evidence -> 'benchmark_results';
        IF jsonb_typeof(v) <> 'array' THEN
            PERFORM senate.raise_error('S2004',
                format('evidence.benchmark_results must be an array of {"name", "value"} objects, '
                       'got %s', left(v::text, 200)));
        ELSIF jsonb_array_length(v) = 0 THEN
            PERFORM senate.raise_error('S2004', 'evidence.benchmark_results is an empty array');
        ELSIF EXISTS (
            SELECT 1 FROM jsonb_array_elements(v) AS e
            WHERE jsonb_typeof(e) <> 'object'
               OR jsonb_typeof(e -> 'name') IS DISTINCT FROM 'string'
               OR btrim(e ->> 'name', E' \t\n\r\f\v') = ''
               OR coalesce(jsonb_typeof(e -> 'value'), 'null') NOT IN ('number', 'string', 'boolean'))
        THEN
            PERFORM senate.raise_error('S2004',
                format('evidence.benchmark_results must hold objects with a non-blank "name" and a '
                       '"value" (number, string or boolean), got %s', left(v::text, 200)));
        END IF;
    END IF;

    IF p_evidence ? 'gap_resolution_progress' THEN
        v := p_evidence -> 'gap_resolution_progress';
        IF NOT senate.is_json_number_in(v, 0, 1) THEN
            PERFORM senate.raise_error('S2004',
                format('evidence.gap_resolution_progress must be a number in (0, 1], got %s',
                       left(v::text, 200)));
        END IF;
    END IF;

    v := p_evidence -> 'expected_kg_edges';
    IF v IS NULL THEN
        PERFORM senate.raise_error('S2005',
            'evidence.expected_kg_edges is missing: state the expected world-model gain '
            '(KG edges, a number > 0)');
    ELSIF NOT senate.is_json_number_in(v, 0, NULL) THEN
        PERFORM senate.raise_error('S2005',
            format('evidence.expected_kg_edges must be a number > 0, got %s', left(v::text, 200)));
    END IF;
END;
$$;
COMMENT ON FUNCTION senate.check_proposal_evidence(text, jsonb) IS
  'The strict justification rule. Raises S2001 (justification blank or too long), S2002 (evidence '
  'not an object), S2011 (evidence over 100000 bytes), S2003 (no grounding field), S2004 (a '
  'grounding field malformed) or S2005 (expected_kg_edges missing or not > 0), each naming the '
  'field and the value; returns nothing when the proposal is well justified.';

-- On a deployment (allocation_proposals adopted with rows), every direct writer stays a legacy
-- writer until 0126 registers who the deployment's writers are: a migration run that stops in
-- between leaves the deployment's workflow working as before governance.
CREATE OR REPLACE FUNCTION senate.legacy_proposal_writes_allowed()
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(current_setting('senate.legacy_proposal_writes', true), '') NOT IN ('off', 'false', '0', 'no')
           AND EXISTS (SELECT 1 FROM senate.schema_registry AS g
                       WHERE g.object_kind = 'table' AND g.relation = 'public.allocation_proposals'
                         AND g.action = 'adopted')
           AND EXISTS (SELECT 1 FROM public.allocation_proposals)
$$;
COMMENT ON FUNCTION senate.legacy_proposal_writes_allowed() IS
  'True when this session''s proposal writes are a legacy consumer''s: its proposal writes skip '
  'the strict justification rule and its direct approvals move no budget. Until migration 0126, '
  'every direct writer of a deployment (allocation_proposals adopted with rows); from 0126 on, '
  'registered legacy writers only. decide_allocation_proposal() runs with the setting '
  'senate.legacy_proposal_writes off, which turns it off.';

CREATE OR REPLACE FUNCTION senate.check_proposal_evidence_on_write()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF (TG_OP = 'INSERT'
        OR NEW.justification IS DISTINCT FROM OLD.justification
        OR NEW.evidence IS DISTINCT FROM OLD.evidence)
       AND NOT senate.legacy_proposal_writes_allowed() THEN
        PERFORM senate.check_proposal_evidence(NEW.justification, NEW.evidence);
    END IF;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION senate.check_proposal_evidence_on_write() IS
  'Row trigger on allocation_proposals: applies senate.check_proposal_evidence() to new rows and to '
  'changed justification or evidence, unless senate.legacy_proposal_writes is on.';

DROP TRIGGER IF EXISTS t11_check_proposal_evidence ON public.allocation_proposals;
CREATE TRIGGER t11_check_proposal_evidence
    BEFORE INSERT OR UPDATE OF justification, evidence ON public.allocation_proposals
    FOR EACH ROW EXECUTE FUNCTION senate.check_proposal_evidence_on_write();
COMMENT ON TRIGGER t11_check_proposal_evidence ON public.allocation_proposals IS
  'Every path that files a proposal or rewrites its justification or evidence obeys the strict '
  'justification rule (SQLSTATEs S2001-S2005, S2011).';

CREATE OR REPLACE FUNCTION public.file_allocation_proposal(
    p_entity_type text,
    p_entity_id text,
    p_requested_amount numeric,
    p_proposer text,
    p_justification text,
    p_evidence jsonb,
    p_resource_type text DEFAULT 'llm_tokens')
RETURNS public.allocation_proposals.id%TYPE
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_proposer text;
    v_id public.allocation_proposals.id%TYPE;
    v_row public.allocation_proposals;
BEGIN
    PERFORM senate.require_entity(p_entity_type, p_entity_id);
    PERFORM senate.require_resource_type('resource_type', p_resource_type);
    PERFORM senate.require_positive_amount('requested_amount', p_requested_amount);
    v_proposer := senate.require_actor('proposer', p_proposer);
    PERFORM senate.check_proposal_evidence(p_justification, p_evidence);

    -- A deployed table may type entity_id (uuid, bigint) and requested_tokens (integer)
    -- differently from a fresh install: convert through the table's own row type.
    BEGIN
        v_row := jsonb_populate_record(NULL::public.allocation_proposals,
                                       jsonb_build_object('entity_type', p_entity_type,
                                                          'entity_id', p_entity_id));
    EXCEPTION WHEN data_exception THEN
        PERFORM senate.raise_error('S2009',
            format('entity_id %s is not a valid identifier here (allocation_proposals.entity_id '
                   'is %s)', quote_literal(left(p_entity_id, 80)),
                   pg_typeof(v_row.entity_id)));
    END;
    BEGIN
        v_row := jsonb_populate_record(v_row,
                                       jsonb_build_object('requested_tokens', p_requested_amount));
    EXCEPTION WHEN data_exception THEN
        PERFORM senate.raise_error('S2006',
            format('requested_amount %s does not fit allocation_proposals.requested_tokens (%s)',
                   p_requested_amount, pg_typeof(v_row.requested_tokens)));
    END;

    INSERT INTO public.allocation_proposals
        (entity_type, entity_id, requested_tokens, proposer_agent, justification, evidence,
         resource_type)
    VALUES (v_row.entity_type, v_row.entity_id, v_row.requested_tokens, v_proposer,
            p_justification, p_evidence, p_resource_type)
    RETURNING id INTO v_id;
    RETURN v_id;
END;
$$;
COMMENT ON FUNCTION public.file_allocation_proposal(text, text, numeric, text, text, jsonb, text) IS
  'Files a pending allocation proposal asking for requested_amount (in the unit of resource_type: '
  'tokens, CPU-seconds, GB-hours, calls) for one entity, and returns its id. Applies the strict '
  'justification rule (senate.check_proposal_evidence) before writing anything; records the '
  'policy version in force. Errors: S2007 unknown entity_type, S2009 bad entity_id, S2008 unknown '
  'resource_type, S2006 amount not positive, S2010 proposer missing, S2001-S2005 and S2011 '
  'justification and evidence.';
REVOKE EXECUTE ON FUNCTION public.file_allocation_proposal(text, text, numeric, text, text, jsonb, text)
    FROM PUBLIC;

-- Trigger functions on the deployed tables run with the owner's rights from the migration that
-- defines them (issue 14 point 9): a legacy writer holding only its grants on the deployed
-- tables keeps working after every migration, not only once 0099/0126 have run. Their bodies
-- name every object schema-qualified; the path is pinned to the catalog.
ALTER FUNCTION senate.check_proposal_evidence_on_write() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
