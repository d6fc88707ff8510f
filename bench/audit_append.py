"""The audit append without a global lock: how many events per second, and the sealer.

Target (issue 16): the audit append reaches at least 5,000 events/s with 8 clients,
and no lock is shared by the requests. Measured on a migrated Ruta database:

* **app writers**: `--clients` processes, each calling the application's own
  `record_event` and committing, one event per transaction, for `--seconds`;
* **pgbench** (PostgreSQL, when `pgbench` is on PATH): the same INSERT as the
  application sends, one per transaction, `--clients` connections; and, for comparison,
  the old design's transaction (lock the head row, insert, update the head);
* **the sealer**: the time to link every event the writers appended (events/s), which
  must stay above the append rate; and `audit verify`'s time over the whole log.

    .venv/bin/python bench/audit_append.py [--clients 8] [--seconds 10]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/audit_append.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.audit.seal import seal
from app.audit.service import Actor, record_event, verify_chain
from app.core.db import configure_sqlite
from app.extensions import db
from bench.common import (
    add_database_argument,
    database_kind,
    environment,
    load_warning,
    print_table,
    ruta_app,
    using_postgres,
    write_results,
)

TARGET = 5_000  # events per second
ACTOR = Actor(1, "bench.writer", "PNC-SON", "pnc_agent", "10.0.0.1")


def _writer(url: str, key: bytes, seconds: float, ready: Any, start: Any, counts: Any) -> None:
    """One client: append events, one per transaction, until the time is up."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        configure_sqlite(engine)
    written = 0
    with Session(engine) as session:
        session.execute(select(1))  # connected before the start
        session.rollback()
        ready.put(True)
        start.wait()
        deadline = time.time() + seconds
        while time.time() < deadline:
            record_event(session, key, ACTOR, "case_view", object_type="case", detail="full")
            session.commit()
            written += 1
    engine.dispose()
    counts.put(written)


def app_writers(url: str, key: bytes, clients: int, seconds: float) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")  # no engine or lock crosses a fork
    ready, start, counts = context.Queue(), context.Event(), context.Queue()
    processes = [
        context.Process(target=_writer, args=(url, key, seconds, ready, start, counts))
        for _ in range(clients)
    ]
    for process in processes:
        process.start()
    for _ in processes:  # every process imported and connected before the clock starts
        ready.get(timeout=300)
    start.set()
    total = sum(counts.get(timeout=seconds + 120) for _ in processes)
    for process in processes:
        process.join()
    return {"events": total, "events_per_s": total / seconds}


_INSERT = (
    "INSERT INTO audit_events (at, user_id, username, institution, role, ip, action, "
    "object_type, object_id, case_id, reason, detail, prev_hmac, hmac) VALUES "
    "(now(), 1, 'bench.writer', 'PNC-SON', 'pnc_agent', '10.0.0.1', 'case_view', 'case', "
    "NULL, NULL, NULL, 'full', NULL, md5(random()::text) || md5(random()::text));\n"
)
_OLD_HEAD = "".join(  # constant SQL of this file: nothing from outside goes in
    [
        "BEGIN;\n",
        "SELECT last_event_id FROM audit_head WHERE id = 1 FOR UPDATE;\n",
        _INSERT,
        "UPDATE audit_head SET count = count + 1 WHERE id = 1;\n",
        "COMMIT;\n",
    ]
)


def _pgbench(url: str, schema: str, script: str, clients: int, seconds: float, tmp: Path) -> float:
    path = tmp / "script.sql"
    path.write_text(script)
    parsed = make_url(url)
    command = [
        "pgbench", "-n", "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 1)),
        "-T", str(int(seconds)), "-f", str(path),
        "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
        "-U", parsed.username or "postgres", parsed.database or "postgres",
    ]  # fmt: skip
    env = {**os.environ, "PGOPTIONS": f"-c search_path={schema}"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    for line in done.stdout.splitlines():
        if line.startswith("tps = "):
            return float(line.split()[2])
    raise RuntimeError(f"pgbench printed no tps:\n{done.stdout}\n{done.stderr}")


def pgbench_runs(url: str, clients: int, seconds: float, tmp: Path) -> dict[str, float]:
    schema = url.rsplit("search_path%3D", 1)[-1]
    return {
        "pgbench_append_per_s": _pgbench(url, schema, _INSERT, clients, seconds, tmp),
        "pgbench_old_head_lock_per_s": _pgbench(url, schema, _OLD_HEAD, clients, seconds, tmp),
    }


def seal_and_verify(bench: Any) -> dict[str, float]:
    key = bench.app.extensions["ruta.keyring"].audit_key
    with bench.app.app_context():
        events = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
        db.session.rollback()
        started = time.perf_counter()
        sealed = seal(db.session, key, wait=True)
        seal_seconds = time.perf_counter() - started
        started = time.perf_counter()
        result = verify_chain(db.session, key)
        verify_seconds = time.perf_counter() - started
        db.session.rollback()
    if not result.ok or result.pending:
        raise RuntimeError(f"the sealed log does not verify: {result}")
    return {
        "events_in_log": events,
        "sealed": sealed.linked,
        "seal_s": seal_seconds,
        "seal_events_per_s": sealed.linked / seal_seconds if seal_seconds else 0.0,
        "verify_s": verify_seconds,
        "verify_events_per_s": result.events / verify_seconds if verify_seconds else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    add_database_argument(parser)
    args = parser.parse_args()
    warning = load_warning()
    if warning:
        print(warning, file=sys.stderr)
    tmp = Path(tempfile.mkdtemp(prefix="ruta-bench-audit-"))
    try:
        with ruta_app(tmp, args.database_url) as bench:
            key = bench.app.extensions["ruta.keyring"].audit_key
            figures: dict[str, float] = app_writers(
                bench.database_url, key, args.clients, args.seconds
            )
            figures |= seal_and_verify(bench)
            if using_postgres(args.database_url) and shutil.which("pgbench"):
                figures |= pgbench_runs(bench.database_url, args.clients, args.seconds, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(args, figures)


def report(args: argparse.Namespace, figures: dict[str, float]) -> None:
    kind = database_kind(args.database_url)
    rows = [
        ["app writers: events/s", f"{figures['events_per_s']:,.0f}", f">= {TARGET:,}"],
        ["sealer: events/s", f"{figures['seal_events_per_s']:,.0f}", "> the append rate"],
        ["sealer: whole backlog (s)", f"{figures['seal_s']:.2f}", ""],
        ["verify: events/s", f"{figures['verify_events_per_s']:,.0f}", ""],
    ]  # fmt: skip
    if "pgbench_append_per_s" in figures:
        rows += [
            ["pgbench, the app's INSERT: events/s", f"{figures['pgbench_append_per_s']:,.0f}",
             f">= {TARGET:,}"],
            ["pgbench, old head-locked append: events/s",
             f"{figures['pgbench_old_head_lock_per_s']:,.0f}", "(for comparison)"],
        ]  # fmt: skip
    print(f"\nAudit append on {kind}, {args.clients} clients, {args.seconds:.0f} s each run")
    print_table(["what", "figure", "target"], rows)
    print("Lock shared by the requests: none (one INSERT each; the sealer's lock is its own).")
    path = write_results(
        "audit_append",
        {"environment": environment(args.database_url), "clients": args.clients, **figures},
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
