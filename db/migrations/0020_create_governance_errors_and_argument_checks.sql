-- Why: governance refuses bad proposals, votes and decisions with one SQLSTATE
-- per kind of problem, so that callers (services, reviewers' tools, the
-- bad-input catalogue) can react by code and never parse message text. This
-- migration catalogues the S2xxx codes and adds the argument checks every
-- governance function uses to raise them with a message naming the argument.
SET lock_timeout = '5s';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S2001', 'justification_invalid',
   'A proposal''s justification is missing, blank, or longer than 20000 characters.',
   'Explain in words how the requested spend leads to world-model gain.'),
  ('S2002', 'evidence_not_object',
   'A proposal''s evidence is not a JSON object.',
   'Pass evidence as a JSON object, e.g. {"pmids": ["12345678"], "expected_kg_edges": 40}.'),
  ('S2003', 'evidence_not_grounded',
   'A proposal''s evidence names none of pmids, market_confidence_delta, kg_edges_gained, '
   'benchmark_results, gap_resolution_progress.',
   'Ground the request in at least one of: new PMIDs, market confidence change, observed KG '
   'yield, benchmark results, gap-resolution progress.'),
  ('S2004', 'evidence_field_invalid',
   'An evidence field is present but malformed (wrong JSON type, empty, or out of range).',
   'pmids: non-empty array of digit strings; market_confidence_delta: number; kg_edges_gained: '
   'number > 0; benchmark_results: non-empty array of {"name", "value"} objects; '
   'gap_resolution_progress: number in (0, 1].'),
  ('S2005', 'expected_gain_missing',
   'A proposal''s evidence lacks expected_kg_edges, or it is not a number > 0.',
   'State the expected world-model gain as evidence.expected_kg_edges (a number > 0).'),
  ('S2006', 'amount_invalid',
   'A requested or funded amount is not a positive finite number.',
   'Pass an amount > 0 in the unit of the resource class (not NaN, not infinite).'),
  ('S2007', 'unknown_entity_type',
   'The entity type is not in entity_types.',
   'Use one of the kinds listed in entity_types, or add the kind there first.'),
  ('S2008', 'unknown_resource_type',
   'The resource class is not in resource_types.',
   'Use one of llm_tokens, cpu_seconds, storage_gb_hours, api_calls (see resource_types).'),
  ('S2009', 'entity_id_invalid',
   'The entity identifier is missing, blank, or longer than 200 characters.',
   'Pass the identifier of the entity the resources are for.'),
  ('S2010', 'actor_invalid',
   'A proposer, voter, reviewer or actor name is missing, blank, or longer than 200 characters.',
   'Name who is acting (an agent or user identifier, 1-200 characters).'),
  ('S2011', 'text_too_long',
   'A note, rationale or evidence document is longer than its limit.',
   'Notes and rationales hold at most 2000 characters; evidence at most 100000 bytes of JSON.'),
  ('S2020', 'invalid_proposal_transition',
   'A write would move an allocation proposal along a transition the state machine forbids.',
   'Allowed: pending -> approved | rejected | deferred, deferred -> pending; new proposals start '
   'pending; approved and rejected are final.'),
  ('S2021', 'proposal_not_pending',
   'The proposal is not pending, so it cannot be voted on or decided (it may just have been '
   'decided by someone else).',
   'Read the proposal''s current status; reopen a deferred proposal with '
   'reopen_allocation_proposal() first.'),
  ('S2022', 'proposal_not_deferred',
   'Only a deferred proposal can be reopened.',
   'Check the proposal''s status; pending proposals need no reopening, decided ones are final.'),
  ('S2023', 'proposal_not_found',
   'No allocation proposal has this id.',
   'Check the id returned by file_allocation_proposal().'),
  ('S2024', 'vote_invalid',
   'A vote is not one of approve, reject, abstain.',
   'Vote approve, reject or abstain.'),
  ('S2025', 'votes_rule_broken',
   'A write to allocation_proposals.votes gives one voter two votes or removes a vote (the shape '
   'of each record is checked by constraint allocation_proposals_votes_valid, SQLSTATE 23514).',
   'Cast votes with cast_allocation_vote(); it replaces a voter''s earlier vote and keeps history.'),
  ('S2026', 'decision_invalid',
   'A decision is not one of approved, rejected, deferred.',
   'Decide approved, rejected or deferred.'),
  ('S2027', 'quorum_not_met',
   'Too few non-abstaining votes for approval under the policy version recorded on the proposal.',
   'Collect more votes, or defer the proposal.'),
  ('S2028', 'majority_not_reached',
   'Approve votes are not a majority of the non-abstaining votes.',
   'Reject or defer the proposal, or collect more votes.'),
  ('S2029', 'reserve_insufficient',
   'The Senate reserve of the requested resource class does not cover the requested amount.',
   'Fund the reserve with fund_reserve(), or defer the proposal.'),
  ('S2030', 'proposal_field_immutable',
   'A write would change a proposal field that is fixed: policy_version always; entity, '
   'amount and resource class once voting began; justification, evidence and votes once decided.',
   'File a new proposal instead of rewriting an existing one.'),
  ('S2031', 'revisit_date_invalid',
   'A revisit date was given for a decision other than deferred, or is not in the future.',
   'Give revisit_at only when deferring, and in the future (or omit it for the policy default).')
ON CONFLICT (sqlstate) DO NOTHING;

-- Argument checks shared by the governance functions: each raises the
-- catalogued code with a message naming the argument and the value.

CREATE OR REPLACE FUNCTION senate.require_actor(p_argument text, p_value text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_value IS NULL OR btrim(p_value, E' \t\n\r\f\v') = ''
       OR length(btrim(p_value, E' \t\n\r\f\v')) > 200 THEN
        PERFORM senate.raise_error('S2010',
            format('%s must name who is acting (1-200 characters), got %s',
                   p_argument, coalesce(quote_literal(left(p_value, 80)), 'NULL')));
    END IF;
    RETURN btrim(p_value, E' \t\n\r\f\v');
END;
$$;
COMMENT ON FUNCTION senate.require_actor(text, text) IS
  'Returns the trimmed actor name (proposer, voter, reviewer, actor), or raises S2010 naming the '
  'argument when it is missing, blank or longer than 200 characters.';

CREATE OR REPLACE FUNCTION senate.require_positive_amount(p_argument text, p_value numeric)
RETURNS numeric
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- NaN compares greater than every number in PostgreSQL, so test it by name.
    IF p_value IS NULL OR p_value = 'NaN'::numeric OR p_value = 'Infinity'::numeric
       OR p_value <= 0 THEN
        PERFORM senate.raise_error('S2006',
            format('%s must be a positive finite amount, got %s',
                   p_argument, coalesce(p_value::text, 'NULL')));
    END IF;
    RETURN p_value;
END;
$$;
COMMENT ON FUNCTION senate.require_positive_amount(text, numeric) IS
  'Returns the amount, or raises S2006 naming the argument when it is NULL, NaN, infinite, zero '
  'or negative.';

CREATE OR REPLACE FUNCTION senate.require_resource_type(p_argument text, p_value text)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_value IS NULL
       OR NOT EXISTS (SELECT 1 FROM public.resource_types AS r WHERE r.resource_type = p_value) THEN
        PERFORM senate.raise_error('S2008',
            format('%s %s is not a resource class (known: %s)',
                   p_argument, coalesce(quote_literal(left(p_value, 80)), 'NULL'),
                   (SELECT string_agg(r.resource_type, ', ' ORDER BY r.resource_type)
                    FROM public.resource_types AS r)));
    END IF;
    RETURN p_value;
END;
$$;
COMMENT ON FUNCTION senate.require_resource_type(text, text) IS
  'Returns the resource class, or raises S2008 naming the argument when it is not in resource_types.';

CREATE OR REPLACE FUNCTION senate.require_entity(p_entity_type text, p_entity_id text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_entity_type IS NULL
       OR NOT EXISTS (SELECT 1 FROM public.entity_types AS e WHERE e.entity_type = p_entity_type) THEN
        PERFORM senate.raise_error('S2007',
            format('entity_type %s is not a kind of entity (known: %s)',
                   coalesce(quote_literal(left(p_entity_type, 80)), 'NULL'),
                   (SELECT string_agg(e.entity_type, ', ' ORDER BY e.entity_type)
                    FROM public.entity_types AS e)));
    END IF;
    IF p_entity_id IS NULL OR btrim(p_entity_id, E' \t\n\r\f\v') = ''
       OR length(p_entity_id) > 200 THEN
        PERFORM senate.raise_error('S2009',
            format('entity_id must identify the entity (1-200 characters, not blank), got %s',
                   coalesce(quote_literal(left(p_entity_id, 80)), 'NULL')));
    END IF;
END;
$$;
COMMENT ON FUNCTION senate.require_entity(text, text) IS
  'Raises S2007 when entity_type is not in entity_types, S2009 when entity_id is missing, blank or '
  'longer than 200 characters.';

CREATE OR REPLACE FUNCTION senate.require_short_text(p_argument text, p_value text, p_max integer)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF length(p_value) > p_max THEN
        PERFORM senate.raise_error('S2011',
            format('%s holds %s characters; at most %s are allowed',
                   p_argument, length(p_value), p_max));
    END IF;
    RETURN nullif(btrim(p_value, E' \t\n\r\f\v'), '');
END;
$$;
COMMENT ON FUNCTION senate.require_short_text(text, text, integer) IS
  'Returns the optional text trimmed (NULL when blank), or raises S2011 naming the argument when it '
  'is longer than p_max characters.';
