"""The bad-input catalogue (issue 9, point 4).

One table of bad inputs across every entry point: the tables services and operators write
(resource_usage, resource_budgets, senate_reserve, budget_ledger, allocation_proposals,
economics_policy, the economics signal tables) and the functions they call. Each entry is
asserted to fail with its own SQLSTATE (a code, or a name from senate.error_codes), with a
message naming the field, and to leave every table of the database exactly as it was (row
counts of all tables in schemas public and senate, before and after).

Entries for functions of branches not merged yet are skipped while the function is missing and
turn on when it lands. Text arguments carrying SQL are passed as bind parameters, the way a
client sends them; they must come back as a plain error and leave nothing changed.

Decisions recorded here (see db/docs/security.md, "Reliability and security"):
- An llm_tokens row naming a model missing from llm_models is refused (23503, column model)
  while senate.settings.usage_strict_validation is on (fresh installs); a NULL model is
  allowed. Same for providers of api_calls rows. Deployments start with it off.
- A negative usage amount is refused (23514) unless the row is a correction written by
  correct_resource_usage().
- NaN is refused in budgets, the reserve and requested amounts (0057): NaN compares greater
  than every number, so ">= 0" checks let it through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from governance_support import decide, ensure_senator
from psycopg import sql
from reliability_support import column_exists, function_exists, scalar

INJECTION = "x'); DROP TABLE resource_budgets; --"
INJECTION_2 = "hypothesis' OR '1'='1"
LONG_201 = "x" * 201

GOOD_EVIDENCE = '{"pmids": ["31883511"], "expected_kg_edges": 40}'
FILE = "SELECT file_allocation_proposal('hypothesis', 'h-cat', {amount}, 'agent-7', {just}, {ev})"
RECORD = (
    "SELECT * FROM record_resource_usage(p_entity_type => {et}, p_entity_id => 'h-cat',"
    " p_resource_type => {rt}, p_amount => {amount}, p_idempotency_key => {key},"
    " p_model => {model})"
)
USAGE = (
    "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model, cost,"
    " provider, idempotency_key) VALUES ({et}, {eid}, {rt}, {amount}, {model}, {cost},"
    " {provider}, {key})"
)
BUDGET = (
    "INSERT INTO resource_budgets (entity_type, entity_id, {col}) VALUES ({et}, {eid}, {value})"
)
PROPOSAL = (
    "INSERT INTO allocation_proposals (entity_type, entity_id, requested_tokens, justification,"
    " evidence) VALUES ({et}, 'h-cat', {amount}, {just}, '"
    + GOOD_EVIDENCE.replace("{", "{{").replace("}", "}}")
    + "')"
)
POLICY = (
    "INSERT INTO economics_policy (created_by, reason, {col}) VALUES ('ops', {reason}, {value})"
)


def usage(**kw: str) -> str:
    values = {
        "et": "'hypothesis'",
        "eid": "'h-cat'",
        "rt": "'llm_tokens'",
        "amount": "100",
        "model": "'claude-haiku'",
        "cost": "NULL",
        "provider": "NULL",
        "key": "NULL",
    }
    values.update(kw)
    return USAGE.format(**values)


def record(**kw: str) -> str:
    values = {
        "et": "'hypothesis'",
        "rt": "'cpu_seconds'",
        "amount": "10",
        "key": "'cat-new'",
        "model": "NULL",
    }
    values.update(kw)
    return RECORD.format(**values)


def file(**kw: str) -> str:
    values = {
        "amount": "5000",
        "just": "'New cohort data should add 40 edges.'",
        "ev": f"'{GOOD_EVIDENCE}'",
    }
    values.update(kw)
    return FILE.format(**values)


def budget(col: str, value: str, et: str = "'hypothesis'", eid: str = "'h-cat'") -> str:
    return BUDGET.format(col=col, value=value, et=et, eid=eid)


def policy(col: str, value: str, reason: str = "'test'") -> str:
    return POLICY.format(col=col, value=value, reason=reason)


@dataclass(frozen=True)
class Bad:
    id: str
    entry: str  # the entry point: a table or a function
    sql: str  # {usage_id}, {correction_id}, {proposal_id}, {rejected_id} are filled by setups
    expect: str  # a SQLSTATE, or an error_name of senate.error_codes
    field: str  # must appear in the error message
    needs: tuple[str, ...] = ()  # functions (or "table:t", "column:t.c") that must exist
    setup: tuple[str, ...] = ()
    params: tuple[Any, ...] | None = field(default=None)
    #: (need, expect) pairs: when that function exists (its branch has landed and guards the
    #: entry point first), expect this instead. First present one wins.
    expect_if: tuple[tuple[str, str], ...] = ()


CATALOGUE: list[Bad] = [
    # --- resource_usage, written directly by services and legacy writers -------------------
    Bad("usage-negative-amount", "resource_usage", usage(amount="-5"), "23514", "amount"),
    Bad("usage-nan-amount", "resource_usage", usage(amount="'NaN'"), "23514", "amount"),
    Bad("usage-infinite-amount", "resource_usage", usage(amount="'Infinity'"), "23514", "amount"),
    Bad(
        "usage-minus-infinite-amount",
        "resource_usage",
        usage(amount="'-Infinity'"),
        "23514",
        "amount",
    ),
    Bad(
        "usage-unknown-entity-type", "resource_usage", usage(et="'planet'"), "23503", "entity_type"
    ),
    Bad(
        "usage-unknown-resource-type",
        "resource_usage",
        usage(rt="'gpu_hours'", model="NULL"),
        "23503",
        "resource_type",
    ),
    Bad("usage-unknown-model", "resource_usage", usage(model="'gpt-99-ultra'"), "23503", "model"),
    Bad(
        "usage-unknown-provider",
        "resource_usage",
        usage(rt="'api_calls'", model="NULL", provider="'bing'"),
        "23503",
        "provider",
    ),
    Bad("usage-missing-entity-id", "resource_usage", usage(eid="NULL"), "23502", "entity_id"),
    Bad(
        "usage-oversize-entity-id",
        "resource_usage",
        usage(eid=f"'{LONG_201}'"),
        "23514",
        "entity_id",
    ),
    Bad("usage-negative-cost", "resource_usage", usage(cost="-0.01"), "23514", "cost"),
    Bad("usage-nan-cost", "resource_usage", usage(cost="'NaN'"), "23514", "cost"),
    Bad(
        "usage-empty-idempotency-key", "resource_usage", usage(key="''"), "23514", "idempotency_key"
    ),
    Bad(
        "usage-oversize-idempotency-key",
        "resource_usage",
        usage(key=f"'{LONG_201}'"),
        "23514",
        "idempotency_key",
    ),
    Bad(
        "usage-injection-in-entity-type",
        "resource_usage",
        usage(et="%s"),
        "23503",
        "entity_type",
        params=(INJECTION,),
    ),
    Bad(
        "usage-update-is-refused",
        "resource_usage",
        "UPDATE resource_usage SET amount = 0",
        "usage_row_immutable",
        "resource_usage",
        setup=("usage",),
    ),
    Bad(
        "usage-delete-is-refused",
        "resource_usage",
        "DELETE FROM resource_usage",
        "usage_row_immutable",
        "resource_usage",
        setup=("usage",),
    ),
    Bad(
        "usage-compat-conflict",
        "resource_usage",
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, amount_used)"
        " VALUES ('hypothesis', 'h-cat', 'cpu_seconds', 5, 6)",
        "compatibility_conflict",
        "amount_used",
        needs=("column:public.resource_usage.amount_used",),
    ),
    # --- record_resource_usage ---------------------------------------------------------------
    Bad("record-negative-amount", "record_resource_usage", record(amount="-1"), "22023", "amount"),
    Bad("record-nan-amount", "record_resource_usage", record(amount="'NaN'"), "22023", "amount"),
    Bad(
        "record-infinite-amount",
        "record_resource_usage",
        record(amount="'Infinity'"),
        "22023",
        "amount",
    ),
    Bad("record-missing-amount", "record_resource_usage", record(amount="NULL"), "22004", "amount"),
    Bad(
        "record-missing-entity-type",
        "record_resource_usage",
        record(et="NULL"),
        "22004",
        "entity_type",
    ),
    Bad(
        "record-unknown-model",
        "record_resource_usage",
        record(rt="'llm_tokens'", model="'gpt-99-ultra'"),
        "23503",
        "model",
    ),
    Bad(
        "record-oversize-key",
        "record_resource_usage",
        record(key=f"'{LONG_201}'"),
        "22023",
        "idempotency_key",
    ),
    Bad(
        "record-key-reused-for-other-usage",
        "record_resource_usage",
        record(key="'cat-key'", amount="11"),
        "idempotency_key_reused",
        "idempotency_key",
        setup=("key",),
    ),
    Bad(
        "record-injection-in-entity-type",
        "record_resource_usage",
        record(et="%s"),
        "23503",
        "entity_type",
        params=(INJECTION_2,),
    ),
    # --- correct_resource_usage --------------------------------------------------------------
    Bad(
        "correct-missing-row",
        "correct_resource_usage",
        "SELECT correct_resource_usage(-1, 5, 'typo', 'ops')",
        "usage_row_not_found",
        "usage_id",
    ),
    Bad(
        "correct-a-correction",
        "correct_resource_usage",
        "SELECT correct_resource_usage({correction_id}, 5, 'typo', 'ops')",
        "correction_of_correction",
        "usage_id",
        setup=("correction",),
    ),
    Bad(
        "correct-negative-amount",
        "correct_resource_usage",
        "SELECT correct_resource_usage({usage_id}, -5, 'typo', 'ops')",
        "22023",
        "corrected_amount",
        setup=("usage",),
    ),
    Bad(
        "correct-blank-reason",
        "correct_resource_usage",
        "SELECT correct_resource_usage({usage_id}, 5, ' ', 'ops')",
        "22023",
        "reason",
        setup=("usage",),
    ),
    Bad(
        "correct-oversize-reason",
        "correct_resource_usage",
        "SELECT correct_resource_usage({usage_id}, 5, repeat('x', 2001), 'ops')",
        "22023",
        "reason",
        setup=("usage",),
    ),
    # --- set_usage_price / correct_usage_price (0162) ----------------------------------------
    Bad(
        "price-negative",
        "set_usage_price",
        "SELECT set_usage_price('llm_tokens', 'claude-haiku', -0.000001, 'why')",
        "price_invalid",
        "usd_per_unit",
        needs=("set_usage_price",),
    ),
    Bad(
        "price-of-unknown-model",
        "set_usage_price",
        "SELECT set_usage_price('llm_tokens', 'no-such-model', 0.000001, 'why')",
        "price_subject_unknown",
        "priced_name",
        needs=("set_usage_price",),
    ),
    Bad(
        "price-starting-before-recorded-usage",
        "set_usage_price",
        "SELECT set_usage_price('llm_tokens', 'claude-haiku', 0.000002, 'why', now())",
        "price_period_overlap",
        "effective_from",
        needs=("set_usage_price",),
    ),
    Bad(
        "price-correction-of-the-future",
        "correct_usage_price",
        "SELECT correct_usage_price('llm_tokens', 'claude-haiku', 0.000002, now() - interval"
        " '1 day', now() + interval '1 day', 'why')",
        "price_window_invalid",
        "window_end",
        needs=("correct_usage_price",),
    ),
    Bad(
        "price-correction-blank-reason",
        "correct_usage_price",
        "SELECT correct_usage_price('api_calls', 'pubmed', 0.001, now() - interval '2 days',"
        " now() - interval '1 day', ' ')",
        "22023",
        "reason",
        needs=("correct_usage_price",),
    ),
    # --- set_senate_setting ------------------------------------------------------------------
    Bad(
        "setting-injection-as-name",
        "set_senate_setting",
        "SELECT set_senate_setting(%s, false, 'ops', 'why')",
        "22023",
        "setting",
        params=("usage_append_only = false; --",),
    ),
    Bad(
        "setting-null-value",
        "set_senate_setting",
        "SELECT set_senate_setting('usage_append_only', NULL, 'ops', 'why')",
        "22004",
        "value",
    ),
    # --- resource_budgets ---------------------------------------------------------------------
    Bad(
        "budget-negative-tokens",
        "resource_budgets",
        budget("token_budget", "-1"),
        "23514",
        "token_budget",
    ),
    Bad(
        "budget-nan-tokens",
        "resource_budgets",
        budget("token_budget", "'NaN'"),
        "23514",
        "token_budget",
    ),
    Bad(
        "budget-infinite-cpu",
        "resource_budgets",
        budget("cpu_budget", "'Infinity'"),
        "23514",
        "cpu_budget",
    ),
    Bad(
        "budget-nan-api-calls",
        "resource_budgets",
        budget("api_call_budget", "'NaN'"),
        "23514",
        "api_call_budget",
    ),
    Bad(
        "budget-priority-above-one",
        "resource_budgets",
        budget("priority_score", "1.01"),
        "23514",
        "priority_score",
    ),
    Bad(
        "budget-priority-negative",
        "resource_budgets",
        budget("priority_score", "-0.1"),
        "23514",
        "priority_score",
    ),
    Bad(
        "budget-market-weight-below-minus-one",
        "resource_budgets",
        budget("market_weight", "-1.5"),
        "23514",
        "market_weight",
    ),
    Bad(
        "budget-nan-market-weight",
        "resource_budgets",
        budget("market_weight", "'NaN'"),
        "23514",
        "market_weight",
    ),
    Bad("budget-nan-roi", "resource_budgets", budget("roi_score", "'NaN'"), "23514", "roi_score"),
    Bad(
        "budget-unknown-entity-type",
        "resource_budgets",
        budget("token_budget", "1", et="'planet'"),
        "23503",
        "entity_type",
    ),
    Bad(
        "budget-oversize-entity-id",
        "resource_budgets",
        budget("token_budget", "1", eid=f"'{LONG_201}'"),
        "23514",
        "entity_id",
    ),
    # --- senate_reserve and budget_ledger ------------------------------------------------------
    Bad(
        "reserve-negative-balance",
        "senate_reserve",
        "UPDATE senate_reserve SET balance = -1 WHERE resource_type = 'llm_tokens'",
        "23514",
        "balance",
    ),
    Bad(
        "reserve-nan-balance",
        "senate_reserve",
        "UPDATE senate_reserve SET balance = 'NaN' WHERE resource_type = 'llm_tokens'",
        "23514",
        "balance",
    ),
    Bad(
        "reserve-unknown-resource-type",
        "senate_reserve",
        "INSERT INTO senate_reserve (resource_type, balance) VALUES ('gpu_hours', 5)",
        "23503",
        "resource_type",
    ),
    Bad(
        "ledger-update-is-refused",
        "budget_ledger",
        "UPDATE budget_ledger SET balance_after = 0",
        "append_only_violation",
        "budget_ledger",
        setup=("budget",),
    ),
    Bad(
        "ledger-delete-is-refused",
        "budget_ledger",
        "DELETE FROM budget_ledger",
        "append_only_violation",
        "budget_ledger",
        setup=("budget",),
    ),
    # --- allocation_proposals, written directly -------------------------------------------------
    Bad(
        "proposal-negative-request",
        "allocation_proposals",
        PROPOSAL.format(et="'hypothesis'", amount="-5", just="'why'"),
        "23514",
        "requested_tokens",
    ),
    Bad(
        "proposal-nan-request",
        "allocation_proposals",
        PROPOSAL.format(et="'hypothesis'", amount="'NaN'", just="'why'"),
        "23514",
        "requested_tokens",
    ),
    Bad(
        "proposal-unknown-status",
        "allocation_proposals",
        "INSERT INTO allocation_proposals (entity_type, entity_id, requested_tokens, justification,"
        f" evidence, status) VALUES ('hypothesis', 'h-cat', 5, 'why', '{GOOD_EVIDENCE}', 'maybe')",
        "23514",
        "status",
        expect_if=(("file_allocation_proposal", "invalid_proposal_transition"),),
    ),
    Bad(
        "proposal-oversize-justification",
        "allocation_proposals",
        PROPOSAL.format(et="'hypothesis'", amount="5", just="repeat('x', 20001)"),
        "23514",
        "justification",
        expect_if=(("file_allocation_proposal", "justification_invalid"),),
    ),
    Bad(
        "proposal-unknown-entity-type",
        "allocation_proposals",
        PROPOSAL.format(et="'planet'", amount="5", just="'why'"),
        "23503",
        "entity_type",
    ),
    Bad(
        "proposal-direct-insert-without-evidence",
        "allocation_proposals",
        "INSERT INTO allocation_proposals (entity_type, entity_id, requested_tokens, justification)"
        " VALUES ('hypothesis', 'h-cat', 5, 'why')",
        "evidence_not_grounded",
        "evidence",
        needs=("file_allocation_proposal",),
    ),
    Bad(
        "proposal-malformed-vote-json",
        "allocation_proposals",
        'UPDATE allocation_proposals SET votes = \'[{{"voter": "a", "vote": "maybe",'
        ' "cast_at": "2024-01-01T00:00:00Z"}}]\' WHERE id = {proposal_id}',
        "23514",
        "vote",
        setup=("proposal",),
    ),
    Bad(
        "proposal-votes-not-an-array",
        "allocation_proposals",
        'UPDATE allocation_proposals SET votes = \'{{"voter": "a"}}\' WHERE id = {proposal_id}',
        "23514",
        "votes",
        setup=("proposal",),
    ),
    Bad(
        "proposal-rejected-to-approved-by-update",
        "allocation_proposals",
        "UPDATE allocation_proposals SET status = 'approved' WHERE id = {rejected_id}",
        "invalid_proposal_transition",
        "approved",
        setup=("rejected",),
    ),
    # --- economics_policy and economics tables ------------------------------------------------
    Bad(
        "policy-weight-above-one",
        "economics_policy",
        policy("weight_novelty", "1.5"),
        "23514",
        "weight_novelty",
    ),
    Bad("policy-quorum-zero", "economics_policy", policy("quorum", "0"), "23514", "quorum"),
    Bad(
        "policy-unknown-budget-period",
        "economics_policy",
        policy("budget_period", "'month'"),
        "23514",
        "budget_period",
    ),
    Bad(
        "policy-blank-reason",
        "economics_policy",
        policy("quorum", "3", reason="'   '"),
        "23514",
        "reason",
    ),
    Bad(
        "policy-adopt-unknown-field",
        "adopt_economics_policy",
        "SELECT adopt_economics_policy(%s::jsonb, 'ops', 'why')",
        "invalid_policy_change",
        "no_such_field",
        needs=("adopt_economics_policy",),
        params=('{"no_such_field": 1}',),
    ),
    Bad(
        "policy-adopt-quorum-zero",
        "adopt_economics_policy",
        "SELECT adopt_economics_policy('{\"quorum\": 0}', 'ops', 'why')",
        "23514",
        "quorum",
        needs=("adopt_economics_policy",),
    ),
    Bad(
        "score-out-of-range",
        "allocation_score",
        "SELECT allocation_score(1.5, 0.5, 0.5, 0.5)",
        "22003",
        "evidence_strength",
        needs=("allocation_score",),
    ),
    Bad(
        "score-nan",
        "allocation_score",
        "SELECT allocation_score(0.5, 'NaN', 0.5, 0.5)",
        "22023",
        "novelty",
        needs=("allocation_score",),
    ),
    Bad(
        "effective-budget-weight-below-minus-one",
        "effective_budget",
        "SELECT effective_budget(100, -2)",
        "22003",
        "market_weight",
        needs=("effective_budget",),
    ),
    Bad(
        "roi-negative-tokens",
        "roi_score",
        "SELECT roi_score(5, -100)",
        "22003",
        "tokens_spent",
        needs=("roi_score",),
    ),
    Bad(
        "market-signal-out-of-range",
        "market_signals",
        "INSERT INTO market_signals (entity_type, entity_id, value, source)"
        " VALUES ('hypothesis', 'h-cat', 1.5, 'exchange')",
        "23514",
        "value",
        needs=("table:public.market_signals",),
    ),
    Bad(
        "kg-gain-negative",
        "world_model_gains",
        "INSERT INTO world_model_gains (entity_type, entity_id, kg_edges_gained, source)"
        " VALUES ('hypothesis', 'h-cat', -1, 'atlas')",
        "23514",
        "kg_edges_gained",
        needs=("table:public.world_model_gains",),
    ),
    # --- governance functions -------------------------------------------------------------------
    Bad(
        "file-missing-evidence",
        "file_allocation_proposal",
        file(ev="'{}'"),
        "evidence_not_grounded",
        "evidence",
        needs=("file_allocation_proposal",),
    ),
    Bad(
        "file-evidence-not-an-object",
        "file_allocation_proposal",
        file(ev="'[1, 2]'"),
        "evidence_not_object",
        "evidence",
        needs=("file_allocation_proposal",),
    ),
    Bad(
        "file-bad-pmids",
        "file_allocation_proposal",
        file(ev='\'{"pmids": ["abc"], "expected_kg_edges": 4}\''),
        "evidence_field_invalid",
        "pmids",
        needs=("file_allocation_proposal",),
    ),
    Bad(
        "file-missing-expected-gain",
        "file_allocation_proposal",
        file(ev='\'{"pmids": ["123"]}\''),
        "expected_gain_missing",
        "expected_kg_edges",
        needs=("file_allocation_proposal",),
    ),
    Bad(
        "file-blank-justification",
        "file_allocation_proposal",
        file(just="'   '"),
        "justification_invalid",
        "justification",
        needs=("file_allocation_proposal",),
    ),
    Bad(
        "file-oversize-justification",
        "file_allocation_proposal",
        file(just="repeat('x', 20001)"),
        "justification_invalid",
        "justification",
        needs=("file_allocation_proposal",),
    ),
    Bad(
        "file-negative-amount",
        "file_allocation_proposal",
        file(amount="-5"),
        "amount_invalid",
        "requested_amount",
        needs=("file_allocation_proposal",),
    ),
    Bad(
        "file-nan-amount",
        "file_allocation_proposal",
        file(amount="'NaN'"),
        "amount_invalid",
        "requested_amount",
        needs=("file_allocation_proposal",),
    ),
    Bad(
        "file-injection-in-entity-type",
        "file_allocation_proposal",
        "SELECT file_allocation_proposal(%s, 'h-cat', 5, 'agent', 'why', %s::jsonb)",
        "unknown_entity_type",
        "entity_type",
        needs=("file_allocation_proposal",),
        params=(INJECTION, GOOD_EVIDENCE),
    ),
    Bad(
        "vote-unknown-value",
        "cast_allocation_vote",
        "SELECT cast_allocation_vote({proposal_id}, 'rev-1', 'yes')",
        "vote_invalid",
        "vote",
        setup=("proposal",),
    ),
    Bad(
        "vote-unknown-proposal",
        "cast_allocation_vote",
        "SELECT cast_allocation_vote(-1, 'rev-1', 'approve')",
        "proposal_not_found",
        "proposal",
        needs=("cast_allocation_vote",),
    ),
    Bad(
        "vote-on-a-decided-proposal",
        "cast_allocation_vote",
        "SELECT cast_allocation_vote({rejected_id}, 'rev-1', 'approve')",
        "proposal_not_pending",
        "pending",
        setup=("rejected",),
    ),
    Bad(
        "vote-injection-as-voter",
        "cast_allocation_vote",
        "SELECT cast_allocation_vote({proposal_id}, %s, 'approve')",
        "actor_invalid",
        "voter",
        setup=("proposal",),
        params=(INJECTION * 10,),
    ),
    Bad(
        "decide-unknown-decision",
        "decide_allocation_proposal",
        "SELECT * FROM decide_allocation_proposal({proposal_id}, 'maybe', 'rev-1')",
        "decision_invalid",
        "decision",
        setup=("proposal",),
    ),
    Bad(
        "decide-approve-without-quorum",
        "decide_allocation_proposal",
        "SELECT * FROM decide_allocation_proposal({proposal_id}, 'approved', 'rev-1')",
        "quorum_not_met",
        "quorum",
        setup=("proposal",),
    ),
    Bad(
        "decide-a-rejected-proposal",
        "decide_allocation_proposal",
        "SELECT * FROM decide_allocation_proposal({rejected_id}, 'approved', 'rev-1')",
        "proposal_not_pending",
        "rejected",
        setup=("rejected",),
    ),
    Bad(
        "reopen-a-pending-proposal",
        "reopen_allocation_proposal",
        "SELECT * FROM reopen_allocation_proposal({proposal_id}, 'rev-1')",
        "proposal_not_deferred",
        "deferred",
        needs=("reopen_allocation_proposal",),
        setup=("proposal",),
    ),
    Bad(
        "fund-negative",
        "fund_reserve",
        "SELECT fund_reserve('llm_tokens', -5, 'ops', 'x')",
        "amount_invalid",
        "amount",
        needs=("fund_reserve",),
    ),
    Bad(
        "fund-nan",
        "fund_reserve",
        "SELECT fund_reserve('llm_tokens', 'NaN', 'ops', 'x')",
        "amount_invalid",
        "amount",
        needs=("fund_reserve",),
    ),
    Bad(
        "fund-infinite",
        "fund_reserve",
        "SELECT fund_reserve('llm_tokens', 'Infinity', 'ops', 'x')",
        "amount_invalid",
        "amount",
        needs=("fund_reserve",),
    ),
    Bad(
        "fund-unknown-resource",
        "fund_reserve",
        "SELECT fund_reserve('gpu_hours', 5, 'ops', 'x')",
        "unknown_resource_type",
        "resource_type",
        needs=("fund_reserve",),
    ),
    Bad(
        "fund-blank-actor",
        "fund_reserve",
        "SELECT fund_reserve('llm_tokens', 5, '', 'x')",
        "actor_invalid",
        "actor",
        needs=("fund_reserve",),
    ),
    # --- spend gate: the shared argument checks' catalogued codes (amount_invalid, ...) -------
    Bad(
        "can-spend-negative-amount",
        "can_spend",
        "SELECT * FROM can_spend('hypothesis', 'h-cat', 'llm_tokens', -5)",
        "amount_invalid",
        "amount",
        needs=("can_spend",),
    ),
    Bad(
        "can-spend-nan-amount",
        "can_spend",
        "SELECT * FROM can_spend('hypothesis', 'h-cat', 'llm_tokens', 'NaN')",
        "amount_invalid",
        "amount",
        needs=("can_spend",),
    ),
    Bad(
        "can-spend-unknown-resource",
        "can_spend",
        "SELECT * FROM can_spend('hypothesis', 'h-cat', 'gpu_hours', 5)",
        "unknown_resource_type",
        "resource_type",
        needs=("can_spend",),
    ),
    Bad(
        "reserve-spend-negative-ttl",
        "reserve_spend",
        "SELECT * FROM reserve_spend('hypothesis', 'h-cat', 'llm_tokens', 5, interval '-1 minute')",
        "reservation_ttl_invalid",
        "ttl",
        needs=("reserve_spend",),
    ),
    Bad(
        "reserve-spend-infinite-amount",
        "reserve_spend",
        "SELECT * FROM reserve_spend('hypothesis', 'h-cat', 'llm_tokens', 'Infinity',"
        " interval '1 minute')",
        "amount_invalid",
        "amount",
        needs=("reserve_spend",),
    ),
    # --- USD envelopes (issue 18, migration 0180) ---------------------------------------------
    Bad(
        "budget-negative-usd",
        "resource_budgets",
        budget("cost_budget_usd", "-1"),
        "23514",
        "cost_budget_usd",
        needs=("column:resource_budgets.cost_budget_usd",),
    ),
    Bad(
        "budget-nan-usd",
        "resource_budgets",
        budget("cost_budget_usd", "'NaN'"),
        "23514",
        "cost_budget_usd",
        needs=("column:resource_budgets.cost_budget_usd",),
    ),
    Bad(
        "usage-of-the-money-class",
        "resource_usage",
        usage(rt="'usd'", model="NULL"),
        "usd_usage_refused",
        "resource_type",
        needs=("column:resource_budgets.cost_budget_usd",),
    ),
    # --- the family tree (issue 19, migrations 0175 and 0177) --------------------------------
    Bad(
        "family-parent-unknown-kind",
        "set_entity_parent",
        "SELECT set_entity_parent('hypothesis', 'h-cat', 'planet', 'p-1', 'r')",
        "unknown_entity_type",
        "parent_type",
    ),
    Bad(
        "family-parent-is-itself",
        "set_entity_parent",
        "SELECT set_entity_parent('hypothesis', 'h-cat', 'hypothesis', 'h-cat', 'r')",
        "entity_parent_cycle",
        "parent",
    ),
    Bad(
        "family-reason-missing",
        "set_entity_parent",
        "SELECT set_entity_parent('hypothesis', 'h-cat', 'knowledge_gap', 'g-1', NULL)",
        "22023",
        "reason",
    ),
    Bad(
        "family-reason-too-long",
        "set_entity_parent",
        "SELECT set_entity_parent('hypothesis', 'h-cat', 'knowledge_gap', 'g-1',"
        " repeat('x', 2001))",
        "text_too_long",
        "reason",
    ),
    Bad(
        "family-clear-without-parent",
        "clear_entity_parent",
        "SELECT clear_entity_parent('hypothesis', 'h-cat', 'r')",
        "entity_parent_not_set",
        "parent",
    ),
    Bad(
        "policy-family-lending-limit-above-one",
        "economics_policy",
        policy("family_lending_limit", "1.5"),
        "23514",
        "family_lending_limit",
        needs=("column:economics_policy.family_lending_limit",),
    ),
    # --- bounded values (issue 15, migrations 0120-0121; bounds in senate.value_bounds) -------
    Bad("usage-amount-beyond-bound", "resource_usage", usage(amount="1e16"), "22003", "amount"),
    Bad("usage-amount-1e8000", "resource_usage", usage(amount="1e8000"), "22003", "amount"),
    Bad(
        "usage-amount-19-places",
        "resource_usage",
        usage(amount="0.0000000000000000001"),
        "22003",
        "amount",
    ),
    Bad("usage-cost-beyond-bound", "resource_usage", usage(cost="1e10"), "22003", "cost"),
    Bad(
        "usage-created-at-infinity",
        "resource_usage",
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, created_at)"
        " VALUES ('hypothesis', 'h-cat', 'cpu_seconds', 1, 'infinity')",
        "usage_time_out_of_window",
        "created_at",
    ),
    Bad(
        "usage-created-at-a-year-ahead",
        "resource_usage",
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, created_at)"
        " VALUES ('hypothesis', 'h-cat', 'cpu_seconds', 1, now() + interval '1 year')",
        "usage_time_out_of_window",
        "created_at",
    ),
    Bad(
        "usage-oversize-metadata",
        "resource_usage",
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, metadata)"
        " VALUES ('hypothesis', 'h-cat', 'cpu_seconds', 1,"
        " jsonb_build_object('blob', repeat('x', 20000)))",
        "22001",
        "metadata",
    ),
    Bad(
        "usage-oversize-provider",
        "resource_usage",
        usage(rt="'api_calls'", model="NULL", provider=f"'{LONG_201}'"),
        "22001",
        "provider",
    ),
    Bad(
        "record-amount-beyond-bound",
        "record_resource_usage",
        record(amount="1e16"),
        "22003",
        "amount",
    ),
    Bad(
        "budget-tokens-beyond-bound",
        "resource_budgets",
        budget("token_budget", "1e19"),
        "22003",
        "token_budget",
    ),
    Bad(
        "fund-beyond-bound",
        "fund_reserve",
        "SELECT fund_reserve('llm_tokens', 1e400, 'ops', 'x')",
        "22003",
        "balance",
        needs=("fund_reserve",),
    ),
    Bad(
        "proposal-request-beyond-bound",
        "allocation_proposals",
        PROPOSAL.format(et="'hypothesis'", amount="1e400", just="'why'"),
        "22003",
        "requested_tokens",
    ),
    Bad(
        "policy-usage-clock-skew-too-large",
        "economics_policy",
        policy("usage_max_clock_skew", "'2 days'"),
        "23514",
        "usage_max_clock_skew",
    ),
    Bad(
        "policy-usage-max-age-too-short",
        "economics_policy",
        policy("usage_max_age", "'1 hour'"),
        "23514",
        "usage_max_age",
    ),
    Bad(
        "policy-open-holds-cap-zero",
        "economics_policy",
        policy("max_open_holds_per_login", "0"),
        "23514",
        "max_open_holds_per_login",
    ),
]

#: Outcomes of the catalogue run, printed by the summary test at the end of the module.
RESULTS: dict[str, str] = {}


def all_row_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT c.oid::regclass::text FROM pg_class AS c"
            " WHERE c.relnamespace IN ('public'::regnamespace, 'senate'::regnamespace)"
            " AND c.relkind IN ('r', 'p') AND c.relname NOT LIKE '%yoyo%' ORDER BY 1"
        ).fetchall()
    ]
    return {t: int(scalar(conn, f"SELECT count(*) FROM {t}")) for t in tables}


def expected_sqlstate(conn: psycopg.Connection[Any], expect: str) -> str:
    if re.fullmatch(r"[0-9A-Z]{5}", expect):
        return expect
    code = conn.execute(
        "SELECT sqlstate FROM senate.error_codes WHERE error_name = %s", (expect,)
    ).fetchone()
    if code is None:
        pytest.skip(f"error {expect} is not catalogued on this branch yet")
    return str(code[0])


TABLES = {
    "resource_usage",
    "resource_budgets",
    "senate_reserve",
    "budget_ledger",
    "allocation_proposals",
    "economics_policy",
    "market_signals",
    "world_model_gains",
}


def present(conn: psycopg.Connection[Any], need: str) -> bool:
    kind, _, name = need.partition(":")
    if kind == "table":
        return bool(scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", (name,)))
    if kind == "column":
        table, _, column = name.rpartition(".")
        return column_exists(conn, table, column)
    return function_exists(conn, need)


SENATOR_ENTRIES = (
    "cast_allocation_vote",
    "decide_allocation_proposal",
    "reopen_allocation_proposal",
)

SETUP_NEEDS = {
    "proposal": ("file_allocation_proposal",),
    "rejected": ("file_allocation_proposal", "decide_allocation_proposal"),
}


def run_setups(conn: psycopg.Connection[Any], setups: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in setups:
        if name in ("usage", "correction"):
            values["usage_id"] = scalar(
                conn,
                "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount,"
                " model) VALUES ('hypothesis', 'h-cat', 'llm_tokens', 100, 'claude-haiku')"
                " RETURNING id",
            )
        if name == "correction":
            values["correction_id"] = scalar(
                conn, "SELECT correct_resource_usage(%s, 60, 'setup', 'ops')", (values["usage_id"],)
            )
        if name == "key":
            conn.execute(record(key="'cat-key'"))
        if name == "budget":
            conn.execute(
                "INSERT INTO resource_budgets (entity_type, entity_id, token_budget)"
                " VALUES ('hypothesis', 'h-cat-budget', 1000)"
            )
        if name in ("proposal", "rejected"):
            pid = scalar(conn, file())
            values["proposal_id"] = pid
            if name == "rejected":
                decide(conn, pid, "rejected", reviewer="rev-0")
                values["rejected_id"] = pid
    return values


@pytest.mark.parametrize("bad", CATALOGUE, ids=[b.id for b in CATALOGUE])
def test_each_bad_input_is_refused_with_its_sqlstate_naming_the_field_and_writes_nothing(
    db: psycopg.Connection[Any], bad: Bad
) -> None:
    needs = list(bad.needs) + [n for s in bad.setup for n in SETUP_NEEDS.get(s, ())]
    if bad.entry not in TABLES:
        needs.append(bad.entry)
    missing = [n for n in needs if not present(db, n)]
    if missing:
        RESULTS[bad.id] = "skipped"
        pytest.skip(f"not on this branch yet: {', '.join(missing)}")
    expect = next((e for need, e in bad.expect_if if present(db, need)), bad.expect)
    state = expected_sqlstate(db, expect)
    values = run_setups(db, bad.setup)
    statement = (
        bad.sql.format(**values) if values else bad.sql.replace("{{", "{").replace("}}", "}")
    )
    # Votes and decisions are a senator's: those entries run as the login of senator rev-1.
    senator = ensure_senator(db, "rev-1") if bad.entry in SENATOR_ENTRIES else None
    before = all_row_counts(db)
    with pytest.raises(psycopg.Error) as info:
        with db.transaction():
            if senator is not None:
                db.execute(
                    sql.SQL("SET LOCAL SESSION AUTHORIZATION {}").format(sql.Identifier(senator))
                )
            db.execute(statement, bad.params)  # type: ignore[arg-type]
    error = info.value
    message = error.diag.message_primary or ""
    after = all_row_counts(db)
    written = {t: after[t] - before.get(t, 0) for t in after if after[t] != before.get(t, 0)}
    RESULTS[bad.id] = "refused" if (error.sqlstate == state and not written) else "WRONG"
    print(
        f"[catalogue] {bad.id:44} {bad.entry:26} -> {error.sqlstate} rows written "
        f"{sum(written.values())}"
    )
    assert error.sqlstate == state, f"{bad.id}: expected {state}, got {error.sqlstate}: {message}"
    assert bad.field in message, f"{bad.id}: the message does not name {bad.field!r}: {message}"
    assert written == {}, f"{bad.id}: rows written {written}"
    assert scalar(db, "SELECT to_regclass('public.resource_budgets') IS NOT NULL")


def test_the_catalogue_covers_every_entry_point_with_at_least_forty_inputs() -> None:
    entries = {b.entry for b in CATALOGUE}
    assert len(CATALOGUE) >= 40
    assert {
        "resource_usage",
        "record_resource_usage",
        "correct_resource_usage",
        "resource_budgets",
        "senate_reserve",
        "budget_ledger",
        "allocation_proposals",
        "economics_policy",
        "file_allocation_proposal",
        "cast_allocation_vote",
        "decide_allocation_proposal",
        "fund_reserve",
        "can_spend",
        "reserve_spend",
    } <= entries
    assert len({b.id for b in CATALOGUE}) == len(CATALOGUE)
    tried = [k for k, v in RESULTS.items() if v != "skipped"]
    skipped = [k for k, v in RESULTS.items() if v == "skipped"]
    wrong = [k for k, v in RESULTS.items() if v == "WRONG"]
    print(
        f"[catalogue] entries {len(CATALOGUE)} across {len(entries)} entry points; "
        f"inputs tried {len(tried)}, refused as catalogued {len(tried) - len(wrong)}, "
        f"rows written 0 by every refused input; skipped until their branch lands "
        f"{len(skipped)}: {', '.join(skipped)}"
    )
    assert wrong == []
