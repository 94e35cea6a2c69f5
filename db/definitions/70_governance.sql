-- db/definitions/70_governance.sql -- Governance: senators, allocation proposals and their votes, blocks, the reserve and legacy proposal writers.
--
-- The current definition of each function and view below; the post-apply hook
-- (db/migrations/post-apply_definitions.py) applies an object whenever its text here
-- changes. Each object starts at its '-- define' line. See README, "Adding a migration".

-- define function senate.check_votes(jsonb)
CREATE OR REPLACE FUNCTION senate.check_votes(p_votes jsonb)
 RETURNS boolean
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
AS $function$
DECLARE
    v_vote jsonb;
    v_index integer := 0;
    v_key text;
    v_text text;
    v_parts text[];
BEGIN
    IF p_votes IS NULL THEN
        RETURN true;  -- NOT NULL is the column's business
    END IF;
    IF jsonb_typeof(p_votes) <> 'array' THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation',
            MESSAGE = format('votes must be a JSON array of vote records, got a JSON %s',
                             jsonb_typeof(p_votes)),
            HINT = 'Use ''[]'' for no votes.';
    END IF;
    FOR v_vote IN SELECT e FROM jsonb_array_elements(p_votes) AS e LOOP
        IF jsonb_typeof(v_vote) <> 'object' THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation',
                MESSAGE = format('votes[%s] must be a JSON object, got %s', v_index, left(v_vote::text, 200)),
                HINT = 'Each vote is {"voter", "vote", "cast_at", "rationale"?}.';
        END IF;
        FOR v_key IN SELECT k FROM jsonb_object_keys(v_vote) AS k LOOP
            IF v_key NOT IN ('voter', 'vote', 'cast_at', 'rationale') THEN
                RAISE EXCEPTION USING ERRCODE = 'check_violation',
                    MESSAGE = format('votes[%s] has unknown field %s', v_index, left(quote_ident(v_key), 100)),
                    HINT = 'Allowed fields: voter, vote, cast_at, rationale.';
            END IF;
        END LOOP;
        v_text := v_vote ->> 'voter';
        IF jsonb_typeof(v_vote -> 'voter') IS DISTINCT FROM 'string'
           OR length(btrim(v_text)) NOT BETWEEN 1 AND 200 THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation',
                MESSAGE = format('votes[%s].voter must be a non-empty string of at most 200 characters, got %s',
                                 v_index, coalesce(left((v_vote -> 'voter')::text, 200), 'nothing')),
                HINT = 'voter names the Senate member casting the vote.';
        END IF;
        IF jsonb_typeof(v_vote -> 'vote') IS DISTINCT FROM 'string'
           OR (v_vote ->> 'vote') NOT IN ('approve', 'reject', 'abstain') THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation',
                MESSAGE = format('votes[%s].vote must be approve, reject or abstain, got %s',
                                 v_index, coalesce(left((v_vote -> 'vote')::text, 200), 'nothing')),
                HINT = 'vote is one of approve, reject, abstain.';
        END IF;
        -- cast_at: ISO 8601 with an explicit UTC offset, checked without a text-to-timestamptz
        -- cast (which depends on the session's TimeZone and DateStyle, so is not immutable).
        v_text := v_vote ->> 'cast_at';
        v_parts := regexp_match(v_text,
            '^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)$');
        IF jsonb_typeof(v_vote -> 'cast_at') IS DISTINCT FROM 'string'
           OR v_parts IS NULL
           OR v_parts[1]::int < 1
           OR v_parts[2]::int NOT BETWEEN 1 AND 12
           OR v_parts[3]::int < 1
           OR v_parts[3]::int > extract(day from (make_date(v_parts[1]::int, v_parts[2]::int, 1)
                                                   + interval '1 month - 1 day'))
           OR v_parts[4]::int > 23 OR v_parts[5]::int > 59
           OR coalesce(substr(v_parts[6], 2, 2)::int, 0) > 59 THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation',
                MESSAGE = format('votes[%s].cast_at must be an ISO 8601 timestamp with a UTC offset, got %s',
                                 v_index, coalesce(left((v_vote -> 'cast_at')::text, 200), 'nothing')),
                HINT = 'For example "2026-04-24T08:34:00Z" or "2026-04-24 08:34:00+02:00".';
        END IF;
        IF v_vote ? 'rationale' AND jsonb_typeof(v_vote -> 'rationale') NOT IN ('string', 'null') THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation',
                MESSAGE = format('votes[%s].rationale must be a string or null, got %s',
                                 v_index, left((v_vote -> 'rationale')::text, 200)),
                HINT = 'rationale is free text explaining the vote.';
        END IF;
        v_index := v_index + 1;
    END LOOP;
    RETURN true;
END;
$function$;
COMMENT ON FUNCTION senate.check_votes(jsonb) IS 'True when p_votes is a JSON array of vote records {voter, vote: approve|reject|abstain, cast_at: ISO 8601 with offset, rationale?: text}; otherwise raises check_violation (23514) naming the element, field and value. IMMUTABLE (depends on the value only), so it backs the CHECK constraint allocation_proposals_votes_valid.';

-- define function senate.guard_governance_blocks()
CREATE OR REPLACE FUNCTION senate.guard_governance_blocks()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.resolved_at IS NULL
       AND (NEW.block_id, NEW.entity_type, NEW.entity_id, NEW.reason, NEW.proposal_id,
            NEW.placed_by, NEW.placed_at)
           IS NOT DISTINCT FROM
           (OLD.block_id, OLD.entity_type, OLD.entity_id, OLD.reason, OLD.proposal_id,
            OLD.placed_by, OLD.placed_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'S1004',
        MESSAGE = format('%s of governance block %s refused: only an unresolved block may be '
                         'resolved, once', TG_OP, OLD.block_id),
        HINT = 'Resolve with resolve_governance_block(); place a new block to reopen.';
END;
$function$;
COMMENT ON FUNCTION senate.guard_governance_blocks() IS 'Row trigger on governance_blocks: allows only writing the resolution of an unresolved block; refuses other updates and deletes (S1004).';

-- define function public.place_governance_block(text,text,text,text,text)
CREATE OR REPLACE FUNCTION public.place_governance_block(entity_type text, entity_id text, reason text, placed_by text, proposal_id text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    INSERT INTO public.governance_blocks (entity_type, entity_id, reason, placed_by, proposal_id)
    VALUES ($1, $2, $3, $4, $5)
    RETURNING block_id
$function$;
COMMENT ON FUNCTION public.place_governance_block(text,text,text,text,text) IS 'Places a governance block on an entity (its market_weight drops to 0 at once) and returns the block_id. proposal_id optionally names the allocation proposal the block stems from.';

-- define function public.resolve_governance_block(bigint,text,text)
CREATE OR REPLACE FUNCTION public.resolve_governance_block(block_id bigint, resolved_by text, resolution text)
 RETURNS public.governance_blocks
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_block public.governance_blocks;
BEGIN
    SELECT * INTO v_block FROM public.governance_blocks AS g
    WHERE g.block_id = resolve_governance_block.block_id
    FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S1003',
            format('resolve_governance_block: block_id %s does not exist', block_id));
    END IF;
    IF v_block.resolved_at IS NOT NULL THEN
        PERFORM senate.raise_error('S1004',
            format('resolve_governance_block: block %s was already resolved at %s by %s',
                   block_id, v_block.resolved_at, v_block.resolved_by));
    END IF;
    UPDATE public.governance_blocks AS g
    SET resolved_by = resolve_governance_block.resolved_by,
        resolved_at = greatest(now(), g.placed_at),
        resolution = resolve_governance_block.resolution
    WHERE g.block_id = resolve_governance_block.block_id
    RETURNING g.* INTO v_block;
    RETURN v_block;
END;
$function$;
COMMENT ON FUNCTION public.resolve_governance_block(bigint,text,text) IS 'Resolves an unresolved governance block (who, how) and returns it; S1003 when unknown, S1004 when already resolved. The next refresh_market_weights() applies market signals again if no other block remains.';

-- define function public.fund_reserve(text,numeric,text,text)
CREATE OR REPLACE FUNCTION public.fund_reserve(p_resource_type text, p_amount numeric, p_actor text, p_note text DEFAULT NULL::text)
 RETURNS numeric
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_actor text := senate.require_actor('actor', p_actor);
    v_note text := senate.require_short_text('note', p_note, 2000);
    v_balance numeric;
BEGIN
    PERFORM senate.require_resource_type('resource_type', p_resource_type);
    PERFORM senate.require_positive_amount('amount', p_amount);

    PERFORM senate.set_change_cause('reserve_funding', NULL, v_actor,
                                    coalesce(v_note, 'reserve funded'));
    INSERT INTO public.senate_reserve AS r (resource_type, balance)
    VALUES (p_resource_type, p_amount)
    ON CONFLICT (resource_type)
    DO UPDATE SET balance = r.balance + excluded.balance, updated_at = now()
    RETURNING r.balance INTO v_balance;
    PERFORM senate.clear_change_cause();
    RETURN v_balance;
END;
$function$;
COMMENT ON FUNCTION public.fund_reserve(text,numeric,text,text) IS 'Adds amount (in the unit of the class: tokens, CPU-seconds, GB-hours, calls) to the Senate reserve of resource_type and returns the new balance. The only way new resources enter. Ledger cause reserve_funding, with actor and note. Errors: S2008 unknown class, S2006 amount not positive and finite, S2010 actor missing, S2011 note over 2000 characters.';

-- define function senate.check_proposal_evidence(text,jsonb)
CREATE OR REPLACE FUNCTION senate.check_proposal_evidence(p_justification text, p_evidence jsonb)
 RETURNS void
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;
COMMENT ON FUNCTION senate.check_proposal_evidence(text,jsonb) IS 'The strict justification rule. Raises S2001 (justification blank or too long), S2002 (evidence not an object), S2011 (evidence over 100000 bytes), S2003 (no grounding field), S2004 (a grounding field malformed) or S2005 (expected_kg_edges missing or not > 0), each naming the field and the value; returns nothing when the proposal is well justified.';

-- define function senate.legacy_proposal_writes_allowed()
CREATE OR REPLACE FUNCTION senate.legacy_proposal_writes_allowed()
 RETURNS boolean
 LANGUAGE sql
 STABLE PARALLEL RESTRICTED
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    SELECT coalesce(pg_catalog.current_setting('senate.legacy_proposal_writes', true), '')
               NOT IN ('off', 'false', '0', 'no')
           AND senate.session_is_legacy_proposal_writer()
$function$;
COMMENT ON FUNCTION senate.legacy_proposal_writes_allowed() IS 'True when this session writes proposals as a registered legacy writer (senate.legacy_proposal_writers): its proposal writes skip the strict justification rule and its direct approvals move no budget. The setting senate.legacy_proposal_writes can only turn it off; the governance functions do so for their own statements.';

-- define function senate.check_proposal_evidence_on_write()
CREATE OR REPLACE FUNCTION senate.check_proposal_evidence_on_write()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF (TG_OP = 'INSERT'
        OR NEW.justification IS DISTINCT FROM OLD.justification
        OR NEW.evidence IS DISTINCT FROM OLD.evidence)
       AND NOT senate.legacy_proposal_writes_allowed() THEN
        PERFORM senate.check_proposal_evidence(NEW.justification, NEW.evidence);
    END IF;
    RETURN NEW;
END;
$function$;
COMMENT ON FUNCTION senate.check_proposal_evidence_on_write() IS 'Row trigger on allocation_proposals: applies senate.check_proposal_evidence() to new rows and to changed justification or evidence, unless senate.legacy_proposal_writes is on.';

-- define function public.file_allocation_proposal(text,text,numeric,text,text,jsonb,text)
CREATE OR REPLACE FUNCTION public.file_allocation_proposal(
    p_entity_type text,
    p_entity_id text,
    p_requested_amount numeric,
    p_proposer text,
    p_justification text,
    p_evidence jsonb,
    p_resource_type text DEFAULT 'llm_tokens')
 RETURNS public.allocation_proposals.id%TYPE
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;
COMMENT ON FUNCTION public.file_allocation_proposal(text,text,numeric,text,text,jsonb,text) IS 'Files a pending allocation proposal asking for requested_amount (in the unit of resource_type: tokens, CPU-seconds, GB-hours, calls) for one entity, and returns its id. Applies the strict justification rule (senate.check_proposal_evidence) before writing anything; records the policy version in force. Errors: S2007 unknown entity_type, S2009 bad entity_id, S2008 unknown resource_type, S2006 amount not positive, S2010 proposer missing, S2001-S2005 and S2011 justification and evidence.';

-- define function senate.proposal_policy_version(bigint,timestamp with time zone)
CREATE OR REPLACE FUNCTION senate.proposal_policy_version(p_recorded_version bigint, p_filed_at timestamp with time zone)
 RETURNS bigint
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
    SELECT coalesce(
        p_recorded_version,
        (SELECT max(p.policy_version) FROM public.economics_policy AS p
         WHERE p.created_at <= p_filed_at),
        (SELECT min(p.policy_version) FROM public.economics_policy AS p))
$function$;
COMMENT ON FUNCTION senate.proposal_policy_version(bigint,timestamp with time zone) IS 'The policy version a proposal is judged by: the one recorded when it was filed; for rows filed before governance recorded it, the latest version adopted at or before the filing time (the first version when the proposal predates every policy).';

-- define function senate.guard_proposal_state()
CREATE OR REPLACE FUNCTION senate.guard_proposal_state()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_from text;  -- governance state of OLD.status (through the vocabulary)
    v_to text;    -- governance state of NEW.status
    v_active bigint;
    v_old jsonb;
    v_new jsonb;
    v_changed text;
    v_voting_began boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- A registered legacy writer may file in the deployment's own spelling of pending.
        IF NEW.status IS DISTINCT FROM 'pending'
           AND NOT (senate.governance_status(NEW.status) = 'pending'
                    AND senate.legacy_proposal_writes_allowed()) THEN
            PERFORM senate.raise_error('S2020',
                format('a new allocation proposal starts pending, got status %s',
                       coalesce(quote_literal(NEW.status), 'NULL')),
                'Decisions are recorded on filed proposals with decide_allocation_proposal().');
        END IF;
        SELECT p.policy_version INTO v_active FROM public.economics_policy AS p WHERE p.is_active;
        IF NEW.policy_version IS NULL THEN
            NEW.policy_version := v_active;
        ELSIF NEW.policy_version IS DISTINCT FROM v_active THEN
            PERFORM senate.raise_error('S2030',
                format('policy_version %s given, but version %s is in force: a proposal is '
                       'judged by the policy in force when it is filed',
                       NEW.policy_version, coalesce(v_active::text, 'none')));
        END IF;
        NEW.decided_at := NULL;
        NEW.revisit_at := NULL;
        NEW.reviewer := NULL;
        NEW.decision_note := NULL;
        RETURN NEW;
    END IF;

    -- UPDATE
    IF NEW.policy_version IS DISTINCT FROM OLD.policy_version THEN
        PERFORM senate.raise_error('S2030',
            format('proposal %s: policy_version is fixed at %s (got %s)',
                   OLD.id, coalesce(OLD.policy_version::text, 'NULL'),
                   coalesce(NEW.policy_version::text, 'NULL')));
    END IF;

    -- Statuses are judged as governance states: the four themselves, and (for the deployment's
    -- rows and its registered legacy writers) any spelling in senate.proposal_status_vocabulary.
    -- Only a registered legacy writer may write a status that is not one of the four.
    v_from := senate.governance_status(OLD.status);
    v_to := senate.governance_status(NEW.status);
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NEW.status IS NULL
           OR (NEW.status NOT IN ('pending', 'approved', 'rejected', 'deferred')
               AND (v_to IS NULL OR NOT senate.legacy_proposal_writes_allowed())) THEN
            PERFORM senate.raise_error('S2020',
                format('proposal %s: status %s is not a governance state', OLD.id,
                       coalesce(quote_literal(NEW.status), 'NULL')),
                CASE WHEN v_to IS NULL
                     THEN 'Write pending, approved, rejected or deferred (a deployment''s own '
                          'spellings are mapped in senate.proposal_status_vocabulary).'
                     ELSE format('Only a registered legacy writer writes the deployment''s '
                                 'spelling %s; write %s.', quote_literal(NEW.status), v_to) END);
        END IF;
        IF v_from IS NULL
           OR (v_from IS DISTINCT FROM v_to
               AND (v_from, v_to) NOT IN (('pending', 'approved'), ('pending', 'rejected'),
                                          ('pending', 'deferred'), ('deferred', 'pending'))) THEN
            PERFORM senate.raise_error('S2020',
                format('proposal %s cannot go from %s to %s', OLD.id, OLD.status,
                       coalesce(NEW.status, 'NULL')),
                CASE WHEN v_from IN ('approved', 'rejected')
                     THEN format('%s is final; file a new proposal instead.', OLD.status)
                     WHEN v_from IS NULL
                     THEN format('Status %s is in no row of senate.proposal_status_vocabulary.',
                                 quote_literal(OLD.status)) END);
        END IF;
    END IF;
    -- A respelling of the same state is no transition; only a legacy writer's is stored (so a
    -- direct 'approved' over a legacy 'Approved' cannot reach the approval and budget triggers).
    IF NEW.status IS DISTINCT FROM OLD.status AND v_from = v_to
       AND NOT senate.legacy_proposal_writes_allowed() THEN
        NEW.status := OLD.status;
    END IF;

    -- What a decision rests on stays fixed. Compatibility columns (0004) are read
    -- through to_jsonb so this guard works before and after they exist; a
    -- compatibility column may be set to the canonical value (backfill).
    v_old := to_jsonb(OLD);
    v_new := to_jsonb(NEW);
    v_voting_began := CASE WHEN jsonb_typeof(v_old -> 'votes') = 'array'
                           THEN jsonb_array_length(v_old -> 'votes') > 0 ELSE false END;
    IF v_from IS DISTINCT FROM 'pending' OR v_voting_began THEN
        SELECT string_agg(k, ', ') INTO v_changed
        FROM unnest(ARRAY['entity_type', 'entity_id', 'resource_type', 'requested_tokens']) AS k
        WHERE v_new -> k IS DISTINCT FROM v_old -> k;
        IF v_changed IS NULL AND v_new ? 'requested_amount'
           AND v_new -> 'requested_amount' IS DISTINCT FROM v_old -> 'requested_amount'
           AND v_new -> 'requested_amount' IS DISTINCT FROM v_old -> 'requested_tokens' THEN
            v_changed := 'requested_amount';
        END IF;
        IF v_changed IS NOT NULL THEN
            PERFORM senate.raise_error('S2030',
                format('proposal %s is %s%s: %s cannot change', OLD.id, OLD.status,
                       CASE WHEN v_from = 'pending' THEN ' with votes cast' ELSE '' END,
                       v_changed));
        END IF;
    END IF;
    IF v_from IN ('approved', 'rejected')
       AND (NEW.justification IS DISTINCT FROM OLD.justification
            OR NEW.evidence IS DISTINCT FROM OLD.evidence) THEN
        PERFORM senate.raise_error('S2030',
            format('proposal %s is %s: its justification and evidence cannot change',
                   OLD.id, OLD.status));
    END IF;

    IF v_to IS DISTINCT FROM v_from THEN
        -- A write that does not name the reviewer or note of this transition gets
        -- the actor and note of the change cause (senate.set_change_cause), else
        -- the session user and no note: never the previous transition's.
        IF NEW.reviewer IS NOT DISTINCT FROM OLD.reviewer THEN
            NEW.reviewer := (senate.current_change_cause()).actor;
        END IF;
        IF NEW.decision_note IS NOT DISTINCT FROM OLD.decision_note THEN
            NEW.decision_note := (senate.current_change_cause()).note;
        END IF;
        NEW.decided_at := CASE WHEN v_to = 'pending' THEN NULL ELSE now() END;
        NEW.updated_at := now();
    END IF;

    IF v_to = 'deferred' THEN
        IF NEW.revisit_at IS NULL
           OR (v_to IS DISTINCT FROM v_from
               AND NEW.revisit_at IS NOT DISTINCT FROM OLD.revisit_at) THEN
            NEW.revisit_at := now() + (
                SELECT p.deferral_period FROM public.economics_policy AS p
                WHERE p.policy_version = senate.proposal_policy_version(OLD.policy_version,
                                                                        OLD.created_at));
        ELSIF NEW.revisit_at IS DISTINCT FROM OLD.revisit_at AND NEW.revisit_at <= now() THEN
            PERFORM senate.raise_error('S2031',
                format('proposal %s: revisit_at %s is not in the future', OLD.id, NEW.revisit_at));
        END IF;
    ELSE
        IF NEW.revisit_at IS NOT NULL AND NEW.revisit_at IS DISTINCT FROM OLD.revisit_at THEN
            PERFORM senate.raise_error('S2031',
                format('proposal %s is %s: only a deferred proposal has a revisit date',
                       OLD.id, NEW.status));
        END IF;
        NEW.revisit_at := NULL;
    END IF;
    RETURN NEW;
END;
$function$;
COMMENT ON FUNCTION senate.guard_proposal_state() IS 'Row trigger on allocation_proposals enforcing the state machine (S2020) on governance states (statuses mapped through senate.proposal_status_vocabulary; spellings other than the four only from registered legacy writers), the fixed fields (S2030) and the revisit date of deferrals (S2031); stamps policy_version on filing and decided_at, reviewer and decision_note (defaults: actor and note of the change cause, else the session user) and revisit_at (default: now + the policy deferral_period) on transitions.';

-- define function senate.record_proposal_transition()
CREATE OR REPLACE FUNCTION senate.record_proposal_transition()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_to text := senate.governance_status(NEW.status);
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.allocation_proposal_transitions
            (proposal_id, from_status, to_status, actor, note)
        VALUES (NEW.id, NULL, v_to,
                coalesce(NEW.proposer_agent::text, NEW.proposer_id::text,
                         to_jsonb(NEW) ->> 'proposer', session_user::text),
                'filed');
    ELSIF v_to IS DISTINCT FROM senate.governance_status(OLD.status)
          OR (v_to = 'deferred' AND NEW.revisit_at IS DISTINCT FROM OLD.revisit_at) THEN
        INSERT INTO public.allocation_proposal_transitions
            (proposal_id, from_status, to_status, actor, note, revisit_at)
        VALUES (NEW.id, senate.governance_status(OLD.status), v_to,
                coalesce(NEW.reviewer::text, (senate.current_change_cause()).actor),
                NEW.decision_note, NEW.revisit_at);
    END IF;
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.record_proposal_transition() IS 'Row trigger on allocation_proposals: appends filings, changes of governance state (statuses mapped through senate.proposal_status_vocabulary; a respelling is no transition) and postponed revisit dates to allocation_proposal_transitions.';

-- define function senate.guard_proposal_votes()
CREATE OR REPLACE FUNCTION senate.guard_proposal_votes()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_voter text;
    v_me text;
    v_new_count bigint;
    v_old_count bigint;
    v_cap integer;
    v_old jsonb;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.votes IS NOT DISTINCT FROM OLD.votes THEN
            RETURN NEW;
        END IF;
        IF OLD.status <> 'pending' OR NEW.status <> 'pending' THEN
            PERFORM senate.raise_error('S2021',
                pg_catalog.format('proposal %s is %s: votes are cast only while it is pending',
                       OLD.id, CASE WHEN OLD.status <> 'pending' THEN OLD.status
                                    ELSE 'being decided' END));
        END IF;
    END IF;
    -- The shape of each vote record is the CHECK constraint allocation_proposals_votes_valid
    -- of migration 0004 (SQLSTATE 23514, tested after this trigger); here only the rules
    -- that need more than one record or the previous value. Each is one set operation.
    IF pg_catalog.jsonb_typeof(NEW.votes) IS DISTINCT FROM 'array' THEN
        RETURN NEW;
    END IF;
    SELECT x.voter INTO v_voter
    FROM (SELECT e ->> 'voter' AS voter
          FROM pg_catalog.jsonb_array_elements(NEW.votes) AS e
          WHERE pg_catalog.jsonb_typeof(e) = 'object' AND e ? 'voter'
          GROUP BY e ->> 'voter' HAVING count(*) > 1) AS x
    LIMIT 1;
    IF FOUND THEN
        PERFORM senate.raise_error('S2025',
            pg_catalog.format('proposal %s: voter %s has more than one vote; one vote per voter '
                              '(voting again replaces the earlier vote)',
                              NEW.id, coalesce(pg_catalog.quote_literal(v_voter), 'NULL')));
    END IF;
    v_new_count := pg_catalog.jsonb_array_length(NEW.votes);
    v_old := CASE WHEN TG_OP = 'UPDATE' AND pg_catalog.jsonb_typeof(OLD.votes) = 'array'
                  THEN OLD.votes ELSE '[]'::jsonb END;
    v_me := senate.session_senator();

    IF TG_OP = 'UPDATE' THEN
        SELECT x.voter INTO v_voter
        FROM (SELECT o ->> 'voter' AS voter FROM pg_catalog.jsonb_array_elements(v_old) AS o
              WHERE pg_catalog.jsonb_typeof(o) = 'object'
              EXCEPT
              SELECT n ->> 'voter' FROM pg_catalog.jsonb_array_elements(NEW.votes) AS n
              WHERE pg_catalog.jsonb_typeof(n) = 'object') AS x
        LIMIT 1;
        IF FOUND THEN
            PERFORM senate.raise_error('S2025',
                pg_catalog.format('proposal %s: the vote of %s would be removed; votes can be '
                                  'replaced, never withdrawn',
                                  OLD.id, coalesce(pg_catalog.quote_literal(v_voter), 'NULL')));
        END IF;
        -- Every voter of OLD is still there, so an OLD record missing verbatim from NEW
        -- is a replaced vote: only its voter's session replaces it.
        SELECT x.o ->> 'voter' INTO v_voter
        FROM (SELECT o FROM pg_catalog.jsonb_array_elements(v_old) AS o
              EXCEPT
              SELECT n FROM pg_catalog.jsonb_array_elements(NEW.votes) AS n) AS x (o)
        WHERE (x.o ->> 'voter') IS DISTINCT FROM v_me
        LIMIT 1;
        IF FOUND THEN
            PERFORM senate.raise_error('S5012',
                pg_catalog.format('proposal %s: the vote of %s can be replaced only by its voter '
                                  '(login %s is %s)',
                                  OLD.id, pg_catalog.quote_literal(v_voter),
                                  pg_catalog.quote_ident(pg_catalog."session_user"()::text),
                                  coalesce('senator ' || pg_catalog.quote_literal(v_me),
                                           'no senator')));
        END IF;
    END IF;

    -- New records under the name of a current member are that member's own.
    SELECT x.n ->> 'voter' INTO v_voter
    FROM (SELECT n FROM pg_catalog.jsonb_array_elements(NEW.votes) AS n
          WHERE pg_catalog.jsonb_typeof(n) = 'object'
          EXCEPT
          SELECT o FROM pg_catalog.jsonb_array_elements(v_old) AS o) AS x (n)
    WHERE (x.n ->> 'voter') IS DISTINCT FROM v_me
      AND EXISTS (SELECT 1 FROM senate.senate_members AS m
                  WHERE m.senator_id = x.n ->> 'voter' AND m.removed_at IS NULL)
    LIMIT 1;
    IF FOUND THEN
        PERFORM senate.raise_error('S5011',
            pg_catalog.format('proposal %s: a vote of senator %s can be cast only by that '
                              'senator''s login (login %s is %s)',
                              NEW.id, pg_catalog.quote_literal(v_voter),
                              pg_catalog.quote_ident(pg_catalog."session_user"()::text),
                              coalesce('senator ' || pg_catalog.quote_literal(v_me), 'no senator')));
    END IF;

    -- The policy cap, counted on voters; replacing a vote never adds one.
    v_old_count := pg_catalog.jsonb_array_length(v_old);
    IF v_new_count > v_old_count THEN
        SELECT pol.max_votes_per_proposal INTO v_cap
        FROM public.economics_policy AS pol
        WHERE pol.policy_version = senate.proposal_policy_version(NEW.policy_version,
                                                                  NEW.created_at);
        IF v_new_count > v_cap THEN
            PERFORM senate.raise_error('S5014',
                pg_catalog.format('proposal %s would hold %s votes; policy version %s allows at '
                                  'most %s votes per proposal (max_votes_per_proposal)',
                                  NEW.id, v_new_count,
                                  senate.proposal_policy_version(NEW.policy_version, NEW.created_at),
                                  v_cap));
        END IF;
    END IF;
    RETURN NEW;
END;
$function$;
COMMENT ON FUNCTION senate.guard_proposal_votes() IS 'Row trigger on allocation_proposals: votes change only while the proposal is and stays pending (S2021), hold one vote per voter and never lose one (S2025); a vote is replaced only by its voter''s session (S5012) and a new vote under a current member''s senator id only by that member''s session (S5011); at most max_votes_per_proposal votes (S5014). Set-based: linear in the number of votes. The shape of each record is checked by the constraint allocation_proposals_votes_valid (0004, SQLSTATE 23514).';

-- define function senate.record_proposal_votes()
CREATE OR REPLACE FUNCTION senate.record_proposal_votes()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    INSERT INTO public.allocation_votes (proposal_id, voter, vote, rationale, cast_at)
    SELECT NEW.id, n.e ->> 'voter', n.e ->> 'vote', n.e ->> 'rationale',
           (n.e ->> 'cast_at')::timestamptz
    FROM pg_catalog.jsonb_array_elements(
             CASE WHEN pg_catalog.jsonb_typeof(NEW.votes) = 'array' THEN NEW.votes
                  ELSE '[]'::jsonb END) WITH ORDINALITY AS n (e, position)
    WHERE pg_catalog.jsonb_typeof(n.e) = 'object'
      AND (TG_OP = 'INSERT'
           OR n.e NOT IN (SELECT o.e
                          FROM pg_catalog.jsonb_array_elements(
                                   CASE WHEN pg_catalog.jsonb_typeof(OLD.votes) = 'array'
                                        THEN OLD.votes ELSE '[]'::jsonb END) AS o (e)))
    ORDER BY n.position;
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.record_proposal_votes() IS 'Row trigger on allocation_proposals: appends every new or replaced element of votes to allocation_votes (set-based: one hashed NOT IN against the previous votes, linear in their number).';

-- define view public.allocation_proposal_tallies
CREATE OR REPLACE VIEW public.allocation_proposal_tallies AS
SELECT p.id AS proposal_id,
       p.status,
       p.entity_type,
       p.entity_id,
       p.resource_type,
       p.requested_tokens AS requested_amount,
       pol.policy_version,
       pol.quorum,
       t.approvals,
       t.rejections,
       t.abstentions,
       t.approvals + t.rejections >= pol.quorum AS quorum_met,
       t.approvals > t.rejections AS majority_reached,
       p.status = 'pending' AND t.approvals + t.rejections >= pol.quorum
           AND t.approvals > t.rejections AS approvable
FROM public.allocation_proposals AS p
LEFT JOIN public.economics_policy AS pol
    ON pol.policy_version = senate.proposal_policy_version(p.policy_version, p.created_at)
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE v.e ->> 'vote' = 'approve') AS approvals,
           count(*) FILTER (WHERE v.e ->> 'vote' = 'reject') AS rejections,
           count(*) FILTER (WHERE v.e ->> 'vote' = 'abstain') AS abstentions
    FROM pg_catalog.jsonb_array_elements(
        CASE WHEN pg_catalog.jsonb_typeof(p.votes) = 'array' THEN p.votes ELSE '[]'::jsonb END)
        AS v (e)
    WHERE (v.e ->> 'voter') IN (SELECT m.senator_id FROM senate.senate_members AS m
                                WHERE m.removed_at IS NULL)
) AS t;
COMMENT ON VIEW public.allocation_proposal_tallies IS 'Current votes of each proposal counted under the policy version recorded on it: approval needs quorum (approve + reject votes >= quorum; abstentions do not count) and majority (more approve than reject votes). Only votes of current members (senate.senate_members) count: one per senator, and a senator is one login.';
COMMENT ON COLUMN public.allocation_proposal_tallies.proposal_id IS 'The proposal.';
COMMENT ON COLUMN public.allocation_proposal_tallies.status IS 'Its status.';
COMMENT ON COLUMN public.allocation_proposal_tallies.entity_type IS 'Kind of entity it is for.';
COMMENT ON COLUMN public.allocation_proposal_tallies.entity_id IS 'Entity it is for.';
COMMENT ON COLUMN public.allocation_proposal_tallies.resource_type IS 'Resource class requested.';
COMMENT ON COLUMN public.allocation_proposal_tallies.requested_amount IS 'Amount requested, in the unit of the class (tokens, CPU-seconds, GB-hours, calls).';
COMMENT ON COLUMN public.allocation_proposal_tallies.policy_version IS 'Policy version it is judged by (recorded at filing).';
COMMENT ON COLUMN public.allocation_proposal_tallies.quorum IS 'Non-abstaining votes that version requires.';
COMMENT ON COLUMN public.allocation_proposal_tallies.approvals IS 'Current approve votes of current members.';
COMMENT ON COLUMN public.allocation_proposal_tallies.rejections IS 'Current reject votes of current members.';
COMMENT ON COLUMN public.allocation_proposal_tallies.abstentions IS 'Current abstain votes of current members.';
COMMENT ON COLUMN public.allocation_proposal_tallies.quorum_met IS 'approvals + rejections >= quorum.';
COMMENT ON COLUMN public.allocation_proposal_tallies.majority_reached IS 'approvals > rejections.';
COMMENT ON COLUMN public.allocation_proposal_tallies.approvable IS 'Pending, quorum met and majority reached (the reserve is checked at decision time).';

-- define view public.allocation_proposal_coverage
CREATE OR REPLACE VIEW public.allocation_proposal_coverage AS
SELECT p.id AS proposal_id,
       p.entity_type::text AS entity_type,
       p.entity_id::text AS entity_id,
       p.resource_type,
       rt.unit,
       p.requested_tokens::numeric AS requested_amount,
       par.entity_type AS parent_entity_type,
       par.entity_id AS parent_entity_id,
       coalesce(m.from_parent, 0) AS from_parent,
       coalesce(m.from_reserve, 0) AS from_reserve,
       m.applied_at
FROM public.allocation_proposals AS p
LEFT JOIN public.resource_types AS rt ON rt.resource_type = p.resource_type
-- What the approval credited the entity, per cause (budget_ledger_cause_idx).
CROSS JOIN LATERAL (
    SELECT sum(l.delta) FILTER (WHERE l.cause_type = 'proposal_carve_out') AS from_parent,
           sum(l.delta) FILTER (WHERE l.cause_type = 'proposal_approval') AS from_reserve,
           max(l.recorded_at) AS applied_at
    FROM public.budget_ledger AS l
    WHERE l.cause_type IN ('proposal_approval', 'proposal_carve_out')
      AND l.cause_id = p.id::text
      AND l.account = 'entity_budget'
      AND l.entity_type = p.entity_type::text AND l.entity_id = p.entity_id::text
    HAVING count(*) > 0
) AS m
-- The parent whose envelope the carve-out came from: its delta-0 row.
LEFT JOIN LATERAL (
    SELECT l.entity_type, l.entity_id
    FROM public.budget_ledger AS l
    WHERE l.cause_type = 'proposal_carve_out' AND l.cause_id = p.id::text
      AND l.account = 'entity_budget'
      AND (l.entity_type, l.entity_id) IS DISTINCT FROM (p.entity_type::text, p.entity_id::text)
    ORDER BY l.ledger_id
    LIMIT 1
) AS par ON true;
COMMENT ON VIEW public.allocation_proposal_coverage IS 'What paid for each applied approval: for every approved proposal that moved budget, the part covered by its parent''s unallocated budget (a carve-out: the child''s envelope grew, the parent''s is unchanged and still caps the subtree; ledger cause proposal_carve_out) and the part drawn from the Senate reserve (cause proposal_approval). An entity without a parent, or a parent with nothing unallocated, has from_parent 0. From budget_ledger, so it cannot disagree with it. Filter by proposal_id.';
COMMENT ON COLUMN public.allocation_proposal_coverage.proposal_id IS 'The approved proposal.';
COMMENT ON COLUMN public.allocation_proposal_coverage.entity_type IS 'Kind of entity it is for.';
COMMENT ON COLUMN public.allocation_proposal_coverage.entity_id IS 'Entity it is for (its envelope was credited).';
COMMENT ON COLUMN public.allocation_proposal_coverage.resource_type IS 'Resource class requested.';
COMMENT ON COLUMN public.allocation_proposal_coverage.unit IS 'Unit of the amounts: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.allocation_proposal_coverage.requested_amount IS 'Amount requested (and credited), in unit: from_parent + from_reserve.';
COMMENT ON COLUMN public.allocation_proposal_coverage.parent_entity_type IS 'Kind of the parent whose unallocated budget covered from_parent; NULL when nothing was carved out.';
COMMENT ON COLUMN public.allocation_proposal_coverage.parent_entity_id IS 'Parent whose unallocated budget covered from_parent; NULL when nothing was carved out.';
COMMENT ON COLUMN public.allocation_proposal_coverage.from_parent IS 'Part covered by the parent''s unallocated budget (its base budget minus its direct children''s, at approval), in unit; the reserve was not drawn for it.';
COMMENT ON COLUMN public.allocation_proposal_coverage.from_reserve IS 'Part drawn from the Senate reserve, in unit.';
COMMENT ON COLUMN public.allocation_proposal_coverage.applied_at IS 'When the approval''s budget change was recorded (ledger recorded_at, clock time).';

-- define function public.cast_allocation_vote(public.allocation_proposals.id%TYPE,text,text,text)
CREATE OR REPLACE FUNCTION public.cast_allocation_vote(
    p_proposal_id public.allocation_proposals.id%TYPE,
    p_voter text,
    p_vote text,
    p_rationale text DEFAULT NULL)
 RETURNS public.allocation_proposal_tallies
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_voter text := senate.require_session_senator('voter', p_voter);
    v_rationale text := senate.require_short_text('rationale', p_rationale, 2000);
    v_status text;
    v_votes jsonb;
    v_tally public.allocation_proposal_tallies;
BEGIN
    IF p_vote IS NULL OR p_vote NOT IN ('approve', 'reject', 'abstain') THEN
        PERFORM senate.raise_error('S2024',
            pg_catalog.format('vote must be approve, reject or abstain, got %s',
                   coalesce(pg_catalog.quote_literal(pg_catalog.left(p_vote, 80)), 'NULL')));
    END IF;
    SELECT p.status, p.votes INTO v_status, v_votes
    FROM public.allocation_proposals AS p WHERE p.id = p_proposal_id
    FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S2023',
            pg_catalog.format('allocation proposal %s does not exist',
                              coalesce(p_proposal_id::text, 'NULL')));
    END IF;
    IF v_status <> 'pending' THEN
        PERFORM senate.raise_error('S2021',
            pg_catalog.format('proposal %s is %s: votes are cast only while it is pending',
                   p_proposal_id, v_status));
    END IF;
    IF v_votes IS NOT NULL AND pg_catalog.jsonb_typeof(v_votes) <> 'array' THEN
        PERFORM senate.raise_error('S2025',
            pg_catalog.format('proposal %s holds votes in another format (%s), not a vote array',
                   p_proposal_id, pg_catalog.left(v_votes::text, 100)));
    END IF;

    -- One pass: every other voter's record as it was, then this voter's (re-voting replaces).
    UPDATE public.allocation_proposals AS p
    SET votes = coalesce((SELECT pg_catalog.jsonb_agg(o.e ORDER BY o.position)
                          FROM pg_catalog.jsonb_array_elements(coalesce(p.votes, '[]'::jsonb))
                               WITH ORDINALITY AS o (e, position)
                          WHERE (o.e ->> 'voter') IS DISTINCT FROM v_voter), '[]'::jsonb)
                || pg_catalog.jsonb_build_array(pg_catalog.jsonb_strip_nulls(
                       pg_catalog.jsonb_build_object('voter', v_voter, 'vote', p_vote,
                                                     'cast_at', pg_catalog.now(),
                                                     'rationale', v_rationale))),
        updated_at = pg_catalog.now()
    WHERE p.id = p_proposal_id;

    SELECT t.* INTO v_tally FROM public.allocation_proposal_tallies AS t
    WHERE t.proposal_id = p_proposal_id;
    RETURN v_tally;
END;
$function$;
COMMENT ON FUNCTION public.cast_allocation_vote(public.allocation_proposals.id%TYPE,text,text,text) IS 'Records the session''s senator''s vote (approve, reject or abstain) on a pending proposal in allocation_proposals.votes, replacing that senator''s own earlier vote (the history is kept in allocation_votes), and returns the proposal''s tally. The voter is session_user mapped through senate.senate_members; p_voter is kept for compatibility: NULL, or the session''s own senator id or login name. Errors: S5010 login is no senator, S5011 p_voter names someone else, S2024 bad vote, S2011 rationale over 2000 characters, S2023 no such proposal, S2021 not pending, S5014 vote cap of the policy reached.';

-- define function senate.check_proposal_approval()
CREATE OR REPLACE FUNCTION senate.check_proposal_approval()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_tally record;
BEGIN
    IF NEW.status IS DISTINCT FROM 'approved' OR OLD.status IS NOT DISTINCT FROM 'approved' THEN
        RETURN NEW;
    END IF;
    IF senate.legacy_proposal_writes_allowed() THEN
        -- A legacy consumer records its decision as it always did; it moves no budget
        -- (senate.apply_approved_proposal skips it too), so no governance rule is needed.
        NEW.decision_note := coalesce(NEW.decision_note,
            'legacy write (senate.legacy_proposal_writes): recorded without governance checks, '
            'no budget change');
        RETURN NEW;
    END IF;
    PERFORM senate.check_proposal_evidence(NEW.justification, NEW.evidence);
    -- A proposal filed before governance may name a kind of entity that has no budgets.
    PERFORM senate.require_entity(NEW.entity_type::text, NEW.entity_id::text);

    SELECT pol.policy_version, pol.quorum,
           count(*) FILTER (WHERE v.e ->> 'vote' = 'approve') AS approvals,
           count(*) FILTER (WHERE v.e ->> 'vote' = 'reject') AS rejections,
           count(*) FILTER (WHERE v.e ->> 'vote' = 'abstain') AS abstentions
    INTO v_tally
    FROM public.economics_policy AS pol
    LEFT JOIN jsonb_array_elements(CASE WHEN jsonb_typeof(NEW.votes) = 'array' THEN NEW.votes
                                        ELSE '[]'::jsonb END) AS v (e)
        ON (v.e ->> 'voter') IN (SELECT m.senator_id FROM senate.senate_members AS m
                                 WHERE m.removed_at IS NULL)
    WHERE pol.policy_version = senate.proposal_policy_version(NEW.policy_version, NEW.created_at)
    GROUP BY pol.policy_version, pol.quorum;

    IF v_tally.quorum IS NULL THEN
        PERFORM senate.raise_error('S2027',
            format('proposal %s: no economics_policy version to judge its votes by', NEW.id));
    END IF;
    IF v_tally.approvals + v_tally.rejections < v_tally.quorum THEN
        PERFORM senate.raise_error('S2027',
            format('proposal %s has %s non-abstaining votes (%s approve, %s reject, %s abstain); '
                   'policy version %s requires a quorum of %s',
                   NEW.id, v_tally.approvals + v_tally.rejections, v_tally.approvals,
                   v_tally.rejections, v_tally.abstentions, v_tally.policy_version,
                   v_tally.quorum));
    END IF;
    IF v_tally.approvals <= v_tally.rejections THEN
        PERFORM senate.raise_error('S2028',
            format('proposal %s has %s approve and %s reject votes: approval needs more approve '
                   'than reject votes', NEW.id, v_tally.approvals, v_tally.rejections));
    END IF;
    RETURN NEW;
END;
$function$;
COMMENT ON FUNCTION senate.check_proposal_approval() IS 'Row trigger on allocation_proposals: a transition to approved needs the strict justification (S2001-S2005), a known kind of entity (S2007), a quorum of non-abstaining votes (S2027) and more approve than reject votes (S2028), judged by the policy version recorded on the proposal; only votes of current members (senate.senate_members) count. A session with senate.legacy_proposal_writes on records its approval unchecked, and it moves no budget.';

-- define function senate.apply_approved_proposal()
CREATE OR REPLACE FUNCTION senate.apply_approved_proposal()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_amount numeric := NEW.requested_tokens::numeric;
    v_column text;
    v_unit text;
    v_balance numeric;
    v_prior senate.change_causes;
    v_actor text;
    v_note text;
    v_parent_type text;
    v_parent_id text;
    v_parent_budget numeric;
    v_children numeric;
    v_unallocated numeric := 0;
    v_covered numeric := 0;
    v_rest numeric;
    v_split text;
BEGIN
    IF senate.legacy_proposal_writes_allowed() THEN
        RETURN NULL;  -- a legacy consumer's approval records a decision and moves nothing
    END IF;
    SELECT r.budget_column, r.unit INTO v_column, v_unit
    FROM public.resource_types AS r WHERE r.resource_type = NEW.resource_type;

    SELECT c.* INTO v_prior FROM senate.change_causes AS c
    WHERE c.backend_pid = pg_catalog.pg_backend_pid()
      AND c.transaction_id = pg_catalog.pg_current_xact_id_if_assigned();
    v_actor := coalesce(NEW.reviewer::text, (senate.current_change_cause()).actor);
    v_note := coalesce(NEW.decision_note, pg_catalog.format('proposal %s approved', NEW.id));

    -- 0. A child (issue 19): its parent's unallocated budget in the class (the parent's base
    --    budget minus its direct children's, floored at 0) covers the proposal first, as a
    --    carve-out: the child's envelope grows, the parent's is unchanged (it still caps the
    --    whole subtree) and the reserve is not drawn for that part. The child's and the
    --    parent's envelopes are locked in key order (entity_type, entity_id), the order
    --    reserve_spend, the rebalance and the tier-cap trigger lock envelopes in, before the
    --    reserve row (as every approval: envelopes, then the reserve), so no lockers wait in
    --    a circle. Approvals of siblings queue on the parent's row; the next statement has a
    --    fresh snapshot (READ COMMITTED) that sees the carve-outs committed before it. An
    --    entity without a parent skips all this: today's two statements below, unchanged.
    SELECT p.parent_type, p.parent_id INTO v_parent_type, v_parent_id
    FROM public.entity_parents AS p
    WHERE p.entity_type = NEW.entity_type::text AND p.entity_id = NEW.entity_id::text;
    IF v_parent_type IS NOT NULL THEN
        PERFORM 1 FROM public.resource_budgets AS b
        WHERE (b.entity_type = NEW.entity_type::text AND b.entity_id = NEW.entity_id::text)
           OR (b.entity_type = v_parent_type AND b.entity_id = v_parent_id)
        ORDER BY b.entity_type, b.entity_id
        FOR NO KEY UPDATE OF b;
        -- A new row version of the parent's envelope (same values: no ledger row), so that a
        -- REPEATABLE READ or SERIALIZABLE approval of a sibling, whose snapshot cannot see
        -- this one's carve-out, fails to lock it (40001, retry) instead of carving it again.
        UPDATE public.resource_budgets AS b
        SET updated_at = b.updated_at
        WHERE b.entity_type = v_parent_type AND b.entity_id = v_parent_id
        RETURNING senate.budget_amount(b, NEW.resource_type) INTO v_parent_budget;
        IF v_parent_budget IS NOT NULL THEN
            SELECT coalesce(pg_catalog.sum(senate.budget_amount(b, NEW.resource_type)), 0)
            INTO v_children
            FROM public.entity_parents AS c
            JOIN public.resource_budgets AS b
              ON b.entity_type = c.entity_type AND b.entity_id = c.entity_id
            WHERE c.parent_type = v_parent_type AND c.parent_id = v_parent_id;
            v_unallocated := greatest(v_parent_budget - v_children, 0);
            v_covered := least(v_amount, v_unallocated);
        END IF;
        v_split := pg_catalog.format(
            '%s %s of %s: %s covered by parent %s %s''s unallocated budget (its budget %s - its '
            'children''s %s = %s before), %s from the Senate reserve',
            v_amount, v_unit, NEW.resource_type, v_covered, v_parent_type, v_parent_id,
            coalesce(v_parent_budget::text, 'none (no envelope)'), coalesce(v_children, 0),
            v_unallocated, v_amount - v_covered);
        v_note := v_note || ' [' || v_split || ']';
    END IF;
    v_rest := v_amount - v_covered;

    IF v_covered > 0 THEN
        -- The carve-out, ledgered apart (cause proposal_carve_out) so that proposal_approval's
        -- rows still net to zero per class (every credit under it is a reserve debit): the
        -- parent's row shows the carve-out with delta 0 (its envelope is unchanged), the
        -- child's its credit.
        PERFORM senate.set_change_cause('proposal_carve_out', NEW.id::text, v_actor, v_note);
        INSERT INTO public.budget_ledger
            (account, entity_type, entity_id, resource_type, balance_before, balance_after,
             cause_type, cause_id, actor, note)
        SELECT 'entity_budget', v_parent_type, v_parent_id, NEW.resource_type, v_parent_budget,
               v_parent_budget, c.cause_type, c.cause_id, c.actor, c.note
        FROM senate.current_change_cause() AS c;
        INSERT INTO public.resource_budgets AS b
            (entity_type, entity_id, token_budget, cpu_budget, storage_budget_gb, api_call_budget,
             cost_budget_usd)
        VALUES (NEW.entity_type::text, NEW.entity_id::text,
                CASE v_column WHEN 'token_budget' THEN v_covered ELSE 0 END,
                CASE v_column WHEN 'cpu_budget' THEN v_covered ELSE 0 END,
                CASE v_column WHEN 'storage_budget_gb' THEN v_covered ELSE 0 END,
                CASE v_column WHEN 'api_call_budget' THEN v_covered ELSE 0 END,
                -- A proposal in USD (class usd) credits the cost budget (NULL stays NULL else).
                CASE v_column WHEN 'cost_budget_usd' THEN v_covered END)
        ON CONFLICT (entity_type, entity_id) DO UPDATE
        SET token_budget = b.token_budget + excluded.token_budget,
            cpu_budget = b.cpu_budget + excluded.cpu_budget,
            storage_budget_gb = b.storage_budget_gb + excluded.storage_budget_gb,
            api_call_budget = b.api_call_budget + excluded.api_call_budget,
            cost_budget_usd = CASE WHEN excluded.cost_budget_usd IS NULL THEN b.cost_budget_usd
                                   ELSE coalesce(b.cost_budget_usd, 0) + excluded.cost_budget_usd
                              END,
            updated_at = pg_catalog.now();
    END IF;

    IF v_rest > 0 THEN
        PERFORM senate.set_change_cause('proposal_approval', NEW.id::text, v_actor, v_note);

        -- 1. The entity's envelope (created if absent), credited in the requested class.
        INSERT INTO public.resource_budgets AS b
            (entity_type, entity_id, token_budget, cpu_budget, storage_budget_gb, api_call_budget,
             cost_budget_usd)
        VALUES (NEW.entity_type::text, NEW.entity_id::text,
                CASE v_column WHEN 'token_budget' THEN v_rest ELSE 0 END,
                CASE v_column WHEN 'cpu_budget' THEN v_rest ELSE 0 END,
                CASE v_column WHEN 'storage_budget_gb' THEN v_rest ELSE 0 END,
                CASE v_column WHEN 'api_call_budget' THEN v_rest ELSE 0 END,
                -- A proposal in USD (class usd) credits the cost budget (NULL stays NULL else).
                CASE v_column WHEN 'cost_budget_usd' THEN v_rest END)
        ON CONFLICT (entity_type, entity_id) DO UPDATE
        SET token_budget = b.token_budget + excluded.token_budget,
            cpu_budget = b.cpu_budget + excluded.cpu_budget,
            storage_budget_gb = b.storage_budget_gb + excluded.storage_budget_gb,
            api_call_budget = b.api_call_budget + excluded.api_call_budget,
            cost_budget_usd = CASE WHEN excluded.cost_budget_usd IS NULL THEN b.cost_budget_usd
                                   ELSE coalesce(b.cost_budget_usd, 0) + excluded.cost_budget_usd
                              END,
            updated_at = pg_catalog.now();

        -- 2. The reserve, debited only if it still covers the amount on the row
        --    version this UPDATE locks (a concurrent approval may just have drawn it).
        UPDATE public.senate_reserve AS r
        SET balance = r.balance - v_rest, updated_at = pg_catalog.now()
        WHERE r.resource_type = NEW.resource_type AND r.balance >= v_rest;
        IF NOT FOUND THEN
            SELECT r.balance INTO v_balance
            FROM public.senate_reserve AS r WHERE r.resource_type = NEW.resource_type;
            PERFORM senate.raise_error('S2029',
                pg_catalog.format('proposal %s needs %s %s of %s, but the Senate reserve holds %s',
                                  NEW.id, v_rest, v_unit, NEW.resource_type,
                                  coalesce(v_balance, 0))
                || CASE WHEN v_parent_type IS NOT NULL
                        THEN pg_catalog.format(' (of %s asked, %s covered by parent %s %s)',
                                               v_amount, v_covered, v_parent_type, v_parent_id)
                        ELSE '' END);
        END IF;
    END IF;

    PERFORM senate.set_change_cause(v_prior.cause_type, v_prior.cause_id, v_prior.actor,
                                    v_prior.note);
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.apply_approved_proposal() IS 'Row trigger on allocation_proposals, on the transition to approved: credits the entity''s resource_budgets row (created if absent) with the requested amount in the requested class (a proposal of class usd: the cost budget in USD, set from NULL when the envelope had none). For an entity with a parent (entity_parents), the parent''s unallocated budget in the class (its base budget minus its direct children''s base budgets, floored at 0) covers it first, as a carve-out: the child''s envelope grows by min(requested, unallocated), the parent''s is unchanged (it still caps the whole subtree), ledgered with cause proposal_carve_out (a delta-0 row on the parent, the credit on the child); only the rest is drawn from the Senate reserve (cause proposal_approval: the credit and the equal reserve debit; S2029 when the reserve does not cover the rest). Both notes say what each covered. An entity without a parent: all from the reserve, exactly as before. cause_id is the proposal id; the caller''s cause is restored. Locks the child''s and the parent''s envelopes in key order, then the reserve row; approvals of siblings queue on the parent''s envelope and never over-carve it (a REPEATABLE READ sibling gets 40001 instead). Does nothing for a session with senate.legacy_proposal_writes on.';

-- define function senate.lock_proposal(public.allocation_proposals.id%TYPE,text)
CREATE OR REPLACE FUNCTION senate.lock_proposal(
    p_proposal_id public.allocation_proposals.id%TYPE, p_expected_status text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_row record;
BEGIN
    SELECT p.status, p.reviewer, p.decided_at INTO v_row
    FROM public.allocation_proposals AS p WHERE p.id = p_proposal_id
    FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S2023',
            format('allocation proposal %s does not exist', coalesce(p_proposal_id::text, 'NULL')));
    END IF;
    IF v_row.status IS DISTINCT FROM p_expected_status THEN
        IF p_expected_status = 'deferred' THEN
            PERFORM senate.raise_error('S2022',
                format('proposal %s is %s, not deferred: only a deferred proposal can be reopened',
                       p_proposal_id, v_row.status));
        END IF;
        PERFORM senate.raise_error('S2021',
            format('proposal %s is already %s%s', p_proposal_id, v_row.status,
                   CASE WHEN v_row.status <> 'pending'
                        THEN format(' (by %s at %s)', coalesce(v_row.reviewer::text, 'unknown'),
                                    coalesce(v_row.decided_at::text, 'unknown time'))
                        ELSE '' END));
    END IF;
END;
$function$;
COMMENT ON FUNCTION senate.lock_proposal(public.allocation_proposals.id%TYPE,text) IS 'Locks the proposal row FOR UPDATE (waiting for a concurrent decision to finish) and raises S2023 when it does not exist, S2022 when reopening a proposal that is not deferred, S2021 when it is not in the expected status (for example decided by someone else meanwhile).';

-- define function public.decide_allocation_proposal(public.allocation_proposals.id%TYPE,text,text,text,timestamptz)
CREATE OR REPLACE FUNCTION public.decide_allocation_proposal(
    p_proposal_id public.allocation_proposals.id%TYPE,
    p_decision text,
    p_reviewer text,
    p_note text DEFAULT NULL,
    p_revisit_at timestamptz DEFAULT NULL)
 RETURNS TABLE (proposal_id public.allocation_proposals.id%TYPE, status text, reviewer text,
               decided_at timestamptz, revisit_at timestamptz, resource_type text,
               amount numeric, budget_after numeric, reserve_after numeric)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_reviewer text := senate.require_session_senator('reviewer', p_reviewer);
    v_note text := senate.require_short_text('note', p_note, 2000);
BEGIN
    -- A governance decision is never a legacy write, whatever the session says. Local to
    -- this call: a function with a SET clause restores every setting it changed on exit.
    PERFORM pg_catalog.set_config('senate.legacy_proposal_writes', 'off', true);
    IF p_decision IS NULL OR p_decision NOT IN ('approved', 'rejected', 'deferred') THEN
        PERFORM senate.raise_error('S2026',
            pg_catalog.format('decision must be approved, rejected or deferred, got %s',
                   coalesce(pg_catalog.quote_literal(pg_catalog.left(p_decision, 80)), 'NULL')));
    END IF;
    IF p_revisit_at IS NOT NULL AND p_decision <> 'deferred' THEN
        PERFORM senate.raise_error('S2031',
            pg_catalog.format('revisit_at %s given for decision %s: only a deferral has a '
                              'revisit date', p_revisit_at, p_decision));
    END IF;
    IF p_revisit_at IS NOT NULL AND (p_revisit_at <= pg_catalog.now() OR p_revisit_at = 'infinity') THEN
        PERFORM senate.raise_error('S2031',
            pg_catalog.format('revisit_at %s is not a future date', p_revisit_at));
    END IF;

    PERFORM senate.lock_proposal(p_proposal_id, 'pending');
    PERFORM senate.refuse_own_proposal(p_proposal_id, v_reviewer);
    PERFORM senate.set_change_cause('proposal_decision', p_proposal_id::text, v_reviewer, v_note);
    UPDATE public.allocation_proposals AS p
    SET status = p_decision, reviewer = v_reviewer, decision_note = v_note,
        revisit_at = p_revisit_at, updated_at = pg_catalog.now()
    WHERE p.id = p_proposal_id;
    PERFORM senate.clear_change_cause();

    RETURN QUERY
    SELECT p.id, p.status::text, p.reviewer::text, p.decided_at::timestamptz, p.revisit_at,
           p.resource_type, p.requested_tokens::numeric,
           senate.budget_amount(b, p.resource_type), r.balance
    FROM public.allocation_proposals AS p
    LEFT JOIN public.resource_budgets AS b
        ON b.entity_type = p.entity_type::text AND b.entity_id = p.entity_id::text
    LEFT JOIN public.senate_reserve AS r ON r.resource_type = p.resource_type
    WHERE p.id = p_proposal_id;
END;
$function$;
COMMENT ON FUNCTION public.decide_allocation_proposal(public.allocation_proposals.id%TYPE,text,text,text,timestamptz) IS 'Records the Senate''s decision on a pending proposal, as the session''s senator (session_user mapped through senate.senate_members; p_reviewer is kept for compatibility: NULL, or the session''s own senator id or login name): approved (needs quorum and majority of current members'' votes under the policy version recorded on the proposal and a reserve that covers the amount; moves the amount from the reserve to the entity''s budget, once, in this transaction; for an entity with a parent, the parent''s unallocated budget in the class covers it first and the reserve only the rest: senate.apply_approved_proposal, allocation_proposal_coverage), rejected (final) or deferred (until p_revisit_at, default now + the policy deferral_period; reopen with reopen_allocation_proposal). A proposer never decides their own proposal. Returns the proposal''s new status with the entity''s budget and the reserve of the class after it. Errors: S5010 login is no senator, S5011 p_reviewer names someone else, S5013 own proposal, S2026 bad decision, S2011 note too long, S2031 bad revisit date, S2023 no such proposal, S2021 not pending (e.g. decided concurrently), S2027 quorum, S2028 majority, S2029 reserve, S2001-S2005 evidence.';

-- define function public.reopen_allocation_proposal(public.allocation_proposals.id%TYPE,text,text)
CREATE OR REPLACE FUNCTION public.reopen_allocation_proposal(
    p_proposal_id public.allocation_proposals.id%TYPE,
    p_reviewer text,
    p_note text DEFAULT NULL)
 RETURNS TABLE (proposal_id public.allocation_proposals.id%TYPE, status text, reviewer text,
               decided_at timestamptz, revisit_at timestamptz, resource_type text,
               amount numeric, budget_after numeric, reserve_after numeric)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_reviewer text := senate.require_session_senator('reviewer', p_reviewer);
    v_note text := senate.require_short_text('note', p_note, 2000);
BEGIN
    PERFORM senate.lock_proposal(p_proposal_id, 'deferred');
    PERFORM senate.set_change_cause('proposal_reopen', p_proposal_id::text, v_reviewer, v_note);
    UPDATE public.allocation_proposals AS p
    SET status = 'pending', reviewer = v_reviewer, decision_note = v_note,
        updated_at = pg_catalog.now()
    WHERE p.id = p_proposal_id;
    PERFORM senate.clear_change_cause();

    RETURN QUERY
    SELECT p.id, p.status::text, p.reviewer::text, p.decided_at::timestamptz, p.revisit_at,
           p.resource_type, p.requested_tokens::numeric,
           senate.budget_amount(b, p.resource_type), r.balance
    FROM public.allocation_proposals AS p
    LEFT JOIN public.resource_budgets AS b
        ON b.entity_type = p.entity_type::text AND b.entity_id = p.entity_id::text
    LEFT JOIN public.senate_reserve AS r ON r.resource_type = p.resource_type
    WHERE p.id = p_proposal_id;
END;
$function$;
COMMENT ON FUNCTION public.reopen_allocation_proposal(public.allocation_proposals.id%TYPE,text,text) IS 'Returns a deferred proposal to pending so that votes and a decision can follow; its votes are kept. Acts as the session''s senator (p_reviewer: NULL, or the session''s own senator id or login name). Errors: S5010 login is no senator, S5011 p_reviewer names someone else, S2011 note too long, S2023 no such proposal, S2022 not deferred.';

-- define view public.proposals_due_for_review
CREATE OR REPLACE VIEW public.proposals_due_for_review AS
SELECT p.id AS proposal_id,
       p.entity_type,
       p.entity_id,
       p.resource_type,
       p.requested_tokens AS requested_amount,
       coalesce(p.proposer_agent::text, p.proposer_id::text) AS proposer,
       p.reviewer AS deferred_by,
       p.decided_at AS deferred_at,
       p.revisit_at,
       now() - p.revisit_at AS overdue_by,
       p.decision_note
FROM public.allocation_proposals AS p
WHERE p.status = 'deferred' AND p.revisit_at <= now();
COMMENT ON VIEW public.proposals_due_for_review IS 'Deferred proposals whose revisit date has passed, most overdue first when ordered by revisit_at: reopen them with reopen_allocation_proposal() (or reject them after reopening).';
COMMENT ON COLUMN public.proposals_due_for_review.proposal_id IS 'The proposal.';
COMMENT ON COLUMN public.proposals_due_for_review.entity_type IS 'Kind of entity it is for.';
COMMENT ON COLUMN public.proposals_due_for_review.entity_id IS 'Entity it is for.';
COMMENT ON COLUMN public.proposals_due_for_review.resource_type IS 'Resource class requested.';
COMMENT ON COLUMN public.proposals_due_for_review.requested_amount IS 'Amount requested, in the unit of the class (tokens, CPU-seconds, GB-hours, calls).';
COMMENT ON COLUMN public.proposals_due_for_review.proposer IS 'Who filed it.';
COMMENT ON COLUMN public.proposals_due_for_review.deferred_by IS 'Reviewer who deferred it.';
COMMENT ON COLUMN public.proposals_due_for_review.deferred_at IS 'When it was deferred.';
COMMENT ON COLUMN public.proposals_due_for_review.revisit_at IS 'When it became due for review.';
COMMENT ON COLUMN public.proposals_due_for_review.overdue_by IS 'How long ago it became due.';
COMMENT ON COLUMN public.proposals_due_for_review.decision_note IS 'The reviewer''s note on the deferral.';

-- define function senate.session_senator()
CREATE OR REPLACE FUNCTION senate.session_senator()
 RETURNS text
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    SELECT m.senator_id
    FROM senate.senate_members AS m
    WHERE m.login_role = (SELECT r.oid FROM pg_catalog.pg_roles AS r
                          WHERE r.rolname = pg_catalog."session_user"())
      AND m.removed_at IS NULL
$function$;
COMMENT ON FUNCTION senate.session_senator() IS 'The senator id of the session''s login (session_user, through senate.senate_members); NULL when the login is no current member. Whatever current_user a SECURITY DEFINER function runs as, session_user is the login that connected (or SET SESSION AUTHORIZATION by a superuser).';

-- define function senate.require_session_senator(text,text)
CREATE OR REPLACE FUNCTION senate.require_session_senator(p_argument text, p_claimed text)
 RETURNS text
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_me text := senate.session_senator();
    v_claimed text;
BEGIN
    -- A name, when given, is checked like every actor name first (S2010).
    IF p_claimed IS NOT NULL THEN
        v_claimed := senate.require_actor(p_argument, p_claimed);
    END IF;
    IF v_me IS NULL THEN
        PERFORM senate.raise_error('S5010',
            format('login %s is not a senator: it cannot act as %s %s',
                   quote_ident(pg_catalog."session_user"()::text), p_argument,
                   coalesce(quote_literal(left(v_claimed, 80)), '(itself)')));
    END IF;
    IF v_claimed IS NOT NULL AND v_claimed <> v_me
       AND v_claimed <> pg_catalog."session_user"()::text THEN
        PERFORM senate.raise_error('S5011',
            format('%s %s is not the session''s senator: login %s is senator %s',
                   p_argument, quote_literal(left(v_claimed, 80)),
                   quote_ident(pg_catalog."session_user"()::text), quote_literal(v_me)));
    END IF;
    RETURN v_me;
END;
$function$;
COMMENT ON FUNCTION senate.require_session_senator(text,text) IS 'The session''s senator id, or raises S2010 when the claimed name (argument p_argument: voter, reviewer) is given but blank or over 200 characters, S5010 when the login is no member, S5011 when the claimed name is neither NULL nor the session''s senator id or login name.';

-- define function public.add_senator(text,text)
CREATE OR REPLACE FUNCTION public.add_senator(p_login text, p_senator_id text)
 RETURNS TABLE(membership_id bigint, login_name text, senator_id text, added_at timestamp with time zone, added_by text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_role oid;
    v_can_login boolean;
    v_senator text := senate.require_actor('senator_id', p_senator_id);
BEGIN
    SELECT r.oid, r.rolcanlogin INTO v_role, v_can_login
    FROM pg_catalog.pg_roles AS r WHERE r.rolname = p_login;
    IF v_role IS NULL OR NOT v_can_login THEN
        PERFORM senate.raise_error('S5015',
            format('login %s %s', coalesce(quote_literal(left(p_login, 80)), 'NULL'),
                   CASE WHEN v_role IS NULL THEN 'is not a role of this cluster'
                        ELSE 'is a NOLOGIN role: a senator is a login' END));
    END IF;
    -- Concurrent adds of the same login or senator id serialise on the unique indexes.
    IF EXISTS (SELECT 1 FROM senate.senate_members AS m
               WHERE m.removed_at IS NULL AND (m.login_role = v_role OR m.senator_id = v_senator)) THEN
        PERFORM senate.raise_error('S5016',
            format('login %s or senator %s is already a current member', quote_ident(p_login),
                   quote_literal(v_senator)));
    END IF;
    BEGIN
        RETURN QUERY
        INSERT INTO senate.senate_members AS m (login_role, login_name, senator_id, added_at, added_by)
        VALUES (v_role, p_login, v_senator, pg_catalog.clock_timestamp(),
                pg_catalog."session_user"())
        RETURNING m.membership_id, m.login_name, m.senator_id, m.added_at, m.added_by;
    EXCEPTION WHEN unique_violation THEN
        PERFORM senate.raise_error('S5016',
            format('login %s or senator %s was just mapped by another session',
                   quote_ident(p_login), quote_literal(v_senator)));
    END;
END;
$function$;
COMMENT ON FUNCTION public.add_senator(text,text) IS 'Maps a LOGIN role to a senator id (senate.senate_members), recording the calling login and the time. Operators (senate_admin) only. Errors: S5015 no such role or NOLOGIN, S5016 login or senator id already a current member, S2010 senator id missing or over 200 characters.';

-- define function public.remove_senator(text)
CREATE OR REPLACE FUNCTION public.remove_senator(p_senator_id text)
 RETURNS TABLE(membership_id bigint, login_name text, senator_id text, removed_at timestamp with time zone, removed_by text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    RETURN QUERY
    UPDATE senate.senate_members AS m
    SET removed_at = pg_catalog.clock_timestamp(), removed_by = pg_catalog."session_user"()
    WHERE m.senator_id = p_senator_id AND m.removed_at IS NULL
    RETURNING m.membership_id, m.login_name, m.senator_id, m.removed_at, m.removed_by;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S5017',
            format('senator %s is not a current member',
                   coalesce(quote_literal(left(p_senator_id, 80)), 'NULL')));
    END IF;
END;
$function$;
COMMENT ON FUNCTION public.remove_senator(text) IS 'Ends a senator''s membership (sets removed_at and removed_by to now and the calling login; the row stays as history). Their votes on pending proposals stop counting towards quorum. Operators (senate_admin) only. Errors: S5017 no current member has this senator id.';

-- define function senate.stamp_vote_recorder()
CREATE OR REPLACE FUNCTION senate.stamp_vote_recorder()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    NEW.recorded_by := pg_catalog."session_user"()::text;
    RETURN NEW;
END;
$function$;
COMMENT ON FUNCTION senate.stamp_vote_recorder() IS 'BEFORE INSERT row trigger on allocation_votes: sets recorded_by to session_user, whatever the INSERT gave.';

-- define function senate.refuse_own_proposal(public.allocation_proposals.id%TYPE,text)
CREATE OR REPLACE FUNCTION senate.refuse_own_proposal(
    p_proposal_id public.allocation_proposals.id%TYPE, p_senator text)
 RETURNS void
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_filer text;
    v_proposer text;
BEGIN
    SELECT t.session_login INTO v_filer
    FROM public.allocation_proposal_transitions AS t
    WHERE t.proposal_id = p_proposal_id AND t.from_status IS NULL
    ORDER BY t.transition_id
    LIMIT 1;
    SELECT coalesce(p.proposer_agent::text, p.proposer_id::text,
                    pg_catalog.to_jsonb(p) ->> 'proposer') INTO v_proposer
    FROM public.allocation_proposals AS p WHERE p.id = p_proposal_id;
    IF v_filer = pg_catalog."session_user"()::text OR v_proposer = p_senator THEN
        PERFORM senate.raise_error('S5013',
            pg_catalog.format('proposal %s was filed by %s: a proposer does not decide their own '
                              'proposal',
                              p_proposal_id,
                              CASE WHEN v_filer = pg_catalog."session_user"()::text
                                   THEN 'login ' || pg_catalog.quote_ident(v_filer)
                                   ELSE 'senator ' || pg_catalog.quote_literal(v_proposer) END));
    END IF;
END;
$function$;
COMMENT ON FUNCTION senate.refuse_own_proposal(public.allocation_proposals.id%TYPE,text) IS 'Raises S5013 when the session''s login filed the proposal (session_login of its filing transition) or p_senator is the proposer named on it.';

-- define function senate.session_is_legacy_proposal_writer()
CREATE OR REPLACE FUNCTION senate.session_is_legacy_proposal_writer()
 RETURNS boolean
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    WITH RECURSIVE roles_of_session (role_oid) AS (
        SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = pg_catalog."session_user"()
        UNION
        SELECT m.roleid FROM pg_catalog.pg_auth_members AS m
        JOIN roles_of_session AS s ON m.member = s.role_oid
    )
    SELECT EXISTS (SELECT 1 FROM senate.legacy_proposal_writers AS w
                   JOIN roles_of_session AS s ON s.role_oid = w.writer_role
                   WHERE w.removed_at IS NULL)
$function$;
COMMENT ON FUNCTION senate.session_is_legacy_proposal_writer() IS 'True when the session''s login (session_user) is a current legacy proposal writer or an explicit member (through any chain of role memberships) of one; superuser status alone does not count. SECURITY DEFINER to read the owner-only registry; it tells the caller only about itself.';

-- define function public.add_legacy_proposal_writer(text,text)
CREATE OR REPLACE FUNCTION public.add_legacy_proposal_writer(p_role text, p_reason text)
 RETURNS SETOF senate.legacy_proposal_writers
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_role oid := (SELECT r.oid FROM pg_catalog.pg_roles AS r
                   WHERE r.rolname = p_role AND r.rolname !~ '^pg_'
                     AND r.rolname NOT IN ('senate_reader', 'senate_writer', 'senate_reviewer',
                                           'senate_admin', 'senate_owner', 'senate_exchange',
                                           'senate_atlas'));
BEGIN
    IF v_role IS NULL OR p_reason IS NULL OR length(btrim(p_reason)) NOT BETWEEN 1 AND 2000 THEN
        PERFORM senate.raise_error('S5018',
            CASE WHEN v_role IS NULL
                 THEN format('role %s is no role of this cluster that may be a legacy writer',
                             coalesce(quote_literal(left(p_role, 80)), 'NULL'))
                 ELSE format('reason %s must be 1-2000 characters',
                             coalesce(quote_literal(left(p_reason, 80)), 'NULL')) END);
    END IF;
    IF EXISTS (SELECT 1 FROM senate.legacy_proposal_writers AS w
               WHERE w.writer_role = v_role AND w.removed_at IS NULL) THEN
        PERFORM senate.raise_error('S5019',
            format('role %s is already a legacy proposal writer', quote_ident(p_role)));
    END IF;
    RETURN QUERY
    INSERT INTO senate.legacy_proposal_writers AS w (writer_role, role_name, reason, added_by)
    VALUES (v_role, p_role, btrim(p_reason), pg_catalog."session_user"())
    RETURNING w.*;
EXCEPTION WHEN unique_violation THEN
    PERFORM senate.raise_error('S5019',
        format('role %s was just registered by another session', quote_ident(p_role)));
END;
$function$;
COMMENT ON FUNCTION public.add_legacy_proposal_writer(text,text) IS 'Registers a role (login or group) as a legacy proposal writer, recording the calling login and the time. Operators (senate_admin) only. Errors: S5018 no such role, a pg_* role or a project group role, or a reason blank or over 2000 characters; S5019 already registered.';

-- define function public.remove_legacy_proposal_writer(text)
CREATE OR REPLACE FUNCTION public.remove_legacy_proposal_writer(p_role text)
 RETURNS SETOF senate.legacy_proposal_writers
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    RETURN QUERY
    UPDATE senate.legacy_proposal_writers AS w
    SET removed_at = pg_catalog.clock_timestamp(), removed_by = pg_catalog."session_user"()
    WHERE w.writer_role = (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = p_role)
      AND w.removed_at IS NULL
    RETURNING w.*;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S5020',
            format('role %s is no current legacy proposal writer',
                   coalesce(quote_literal(left(p_role, 80)), 'NULL')));
    END IF;
END;
$function$;
COMMENT ON FUNCTION public.remove_legacy_proposal_writer(text) IS 'Ends a role''s legacy exemption (removed_at, removed_by = now and the calling login; the row stays as history): its next proposal writes obey the evidence rule. Operators (senate_admin) only. Errors: S5020 not a current legacy writer.';

-- define function senate.governance_status(text)
CREATE OR REPLACE FUNCTION senate.governance_status(p_status text)
 RETURNS text
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    SELECT CASE WHEN p_status IN ('pending', 'approved', 'rejected', 'deferred') THEN p_status
                ELSE (SELECT v.governance_status FROM senate.proposal_status_vocabulary AS v
                      WHERE v.status = pg_catalog.lower(pg_catalog.btrim(p_status))) END
$function$;
COMMENT ON FUNCTION senate.governance_status(text) IS 'The governance state (pending, approved, rejected, deferred) a proposal status means, through senate.proposal_status_vocabulary; NULL for a spelling it does not know.';

-- define view public.reserve_queue
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
COMMENT ON VIEW public.reserve_queue IS 'Which pending proposals the Senate reserve can pay for, together and in order: per resource class, pending proposals first filed, first paid (created_at, then id), each with the running total requested and whether the reserve covers it after every earlier pending proposal of its class is paid (covers_in_queue) or on its own (covers_alone). An approval debits the reserve of its class, so only covers_in_queue says what the reserve can pay for all at once.';
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
