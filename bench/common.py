"""Shared benchmark plumbing: a throwaway Ruta app, users with tokens, timing, results.

Mirrors what tests/conftest.py does (settings in a temp dir, migrations to head, the
demo directory, users created by the service and tokens issued the way login does) but
imports nothing from tests/. SQLite by default; PostgreSQL when a URL is given
(`--database-url` or BENCH_DATABASE_URL), in a schema of its own that is dropped at the end.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import logging
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python bench/x.py`: make `app` and `config` importable
    sys.path.insert(0, str(ROOT))

from flask import Flask, abort, jsonify  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from flask_sqlalchemy import SQLAlchemy  # noqa: E402
from sqlalchemy import DateTime, Integer, String, create_engine, event, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column  # noqa: E402

from app import create_app  # noqa: E402
from app.auth.service import create_user, issue_token  # noqa: E402
from app.cli.demo import load_directory  # noqa: E402
from app.crypto.keyring import KeyMaterial, write_key_file  # noqa: E402
from app.extensions import db  # noqa: E402
from config import Settings  # noqa: E402
from tests.fast_hashing import use_fast_hashing  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MIGRATIONS_DIR = ROOT / "migrations"
PASSWORD = "correct horse battery"
# Every measured read is the same user reading a case: the production cap (300 an hour,
# app/auth/read_limit.py) would refuse the 301st. Each read is still charged, as always.
READS_PER_HOUR = 1_000_000_000

# Cheap argon2 for the setup (users, status PINs). No measured request hashes anything.
use_fast_hashing()


# ---- command line ----------------------------------------------------------------------


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", ""),
        help="PostgreSQL URL (postgresql+psycopg://...); default: SQLite in a temp dir "
        "(env BENCH_DATABASE_URL)",
    )


def using_postgres(base_url: str) -> bool:
    return base_url.startswith("postgresql")


def database_kind(base_url: str) -> str:
    return "postgresql" if using_postgres(base_url) else "sqlite"


# ---- databases -------------------------------------------------------------------------


def _url_with_schema(base_url: str, schema: str) -> str:
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}options=-csearch_path%3D{schema}"


@contextmanager
def scratch_database(tmp: Path, name: str, base_url: str, keep: bool = False) -> Iterator[str]:
    """An empty database to build in: a SQLite file in `tmp`, or a fresh PostgreSQL
    schema (dropped on the way out, whatever happened). `keep`: PostgreSQL's schema
    `bench_<name>_kept` is reused as it is and left for the next run."""
    if not using_postgres(base_url):
        yield f"sqlite:///{tmp / (name + '.db')}"
        return
    schema = f"bench_{name}_kept" if keep else f"bench_{name}_{os.getpid()}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not keep:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    try:
        yield _url_with_schema(base_url, schema)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


# ---- a Ruta app ------------------------------------------------------------------------


def make_settings(tmp: Path, database_url: str) -> Settings:
    """Production-like: no TESTING, rate limiter on (memory storage), MFA off only
    because the benchmark issues tokens directly instead of logging in, the hourly read
    cap out of reach (READS_PER_HOUR)."""
    key_file = tmp / "keys" / "kek"
    if not key_file.exists():
        write_key_file(key_file, KeyMaterial.generate())
    settings = Settings(
        database_url=database_url,
        key_file=key_file,
        attachments_dir=tmp / "attachments",
        secret_file=tmp / "secret_key",
        secret_key="bench-secret-" + uuid.uuid4().hex,
        require_mfa=False,
        redis_url=None,
        testing=False,
        secure_cookies=False,
        case_reads_per_hour=READS_PER_HOUR,
    )
    settings.extra.update({"RATELIMIT_ENABLED": True})
    return settings


def migrate_to_head(settings: Settings) -> None:
    from flask_migrate import upgrade

    app = create_app(settings, for_cli=True)
    chatter = io.StringIO()  # Alembic's INFO lines; shown only when the upgrade fails
    with app.app_context():
        try:
            with redirect_stderr(chatter):
                upgrade(directory=str(MIGRATIONS_DIR))
        except BaseException:
            sys.stderr.write(chatter.getvalue())
            raise
        finally:
            db.engine.dispose()
            # Alembic's fileConfig bound the root handler to our buffer: give stderr back.
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is chatter:
                    handler.setStream(sys.stderr)


@dataclass
class BenchUser:
    id: int
    username: str
    role: str
    institution: str
    institution_id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class RutaBench:
    app: Flask
    database_url: str
    users: dict[str, BenchUser] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        with self.app.app_context():
            return db.engine

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def add_user(self, role: str, institution: str, username: str) -> BenchUser:
        """Create a user through the service and give them a token, as login would."""
        with self.app.app_context():
            ring = self.app.extensions["ruta.keyring"]
            new = create_user(
                db.session,
                ring,
                username=username,
                institution_code=institution,
                role=role,
                password=PASSWORD,
                with_totp=False,
            )
            token, _ = issue_token(db.session, new.user, self.app.config["RUTA_TOKEN_LIFETIME"])
            db.session.commit()
            user = BenchUser(
                new.user.id, username, role, institution, new.user.institution_id, token
            )
        self.users[username] = user
        return user

    def close(self) -> None:
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


@contextmanager
def ruta_app(tmp: Path, base_url: str, keep: bool = False) -> Iterator[RutaBench]:
    """A migrated Ruta with its directory loaded, on SQLite or a scratch PG schema
    (`keep`: see scratch_database)."""
    with scratch_database(tmp, "ruta", base_url, keep) as url:
        settings = make_settings(tmp, url)
        migrate_to_head(settings)
        app = create_app(settings)
        with app.app_context():
            load_directory(db.session)
            db.session.commit()
        bench = RutaBench(app, url)
        try:
            yield bench
        finally:
            bench.close()


# ---- the bare baseline -----------------------------------------------------------------


def bare_app(database_url: str, seed: bool = True) -> tuple[Flask, SQLAlchemy]:
    """Flask-SQLAlchemy defaults: the floor a Flask app pays.

    `GET /rows/<id>` returns one row of one table as JSON; `GET /rows/<id>/with-insert`
    also inserts one audit-sized row (12 short columns, another table) and commits.
    `seed`: create the tables and 100 rows (once, before any server process builds the
    app with seed=False)."""

    class Base(DeclarativeBase):
        pass

    bare_db = SQLAlchemy(model_class=Base)

    class Row(bare_db.Model):  # type: ignore[name-defined]
        __tablename__ = "bench_rows"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        name: Mapped[str] = mapped_column(String(100))
        municipality: Mapped[str] = mapped_column(String(40))
        count: Mapped[int] = mapped_column(Integer)

    class AuditRow(bare_db.Model):  # type: ignore[name-defined]
        __tablename__ = "bench_audit"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
        user_id: Mapped[int] = mapped_column(Integer)
        username: Mapped[str] = mapped_column(String(80))
        institution: Mapped[str] = mapped_column(String(20))
        role: Mapped[str] = mapped_column(String(20))
        action: Mapped[str] = mapped_column(String(40))
        object_type: Mapped[str] = mapped_column(String(20))
        object_id: Mapped[str] = mapped_column(String(40))
        case_id: Mapped[str] = mapped_column(String(36))
        detail: Mapped[str] = mapped_column(String(100))
        ip: Mapped[str] = mapped_column(String(45))
        request_id: Mapped[str] = mapped_column(String(16))

    app = Flask("bare")
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    bare_db.init_app(app)

    def row_or_404(row_id: int) -> dict[str, Any]:
        row = bare_db.session.get(Row, row_id)
        if row is None:
            abort(404)
        return {
            "id": row.id,
            "name": row.name,
            "municipality": row.municipality,
            "count": row.count,
        }

    @app.get("/rows/<int:row_id>")
    def read_row(row_id: int) -> Any:
        return jsonify(row_or_404(row_id))

    @app.get("/rows/<int:row_id>/with-insert")
    def read_row_with_insert(row_id: int) -> Any:
        # The answer is built before the commit: read after it, the expired row would
        # cost another SELECT, which is not what is being compared.
        answer = row_or_404(row_id)
        bare_db.session.add(
            AuditRow(
                at=datetime.now(UTC),
                user_id=1,
                username="agente.bench",
                institution="PNC-SON",
                role="pnc_agent",
                action="case_view",
                object_type="case",
                object_id=str(row_id),
                case_id=str(uuid.UUID(int=row_id)),
                detail="view=full",
                ip="127.0.0.1",
                request_id=uuid.uuid4().hex[:16],
            )
        )
        bare_db.session.commit()
        return jsonify(answer)

    if seed:
        with app.app_context():
            bare_db.create_all()
            bare_db.session.add_all(
                Row(id=i, name=f"row {i}", municipality="sonsonate", count=i) for i in range(1, 101)
            )
            bare_db.session.commit()
    return app, bare_db


# ---- counting SQL ----------------------------------------------------------------------


class SqlCounter:
    """Counts statements (before_cursor_execute) and pool checkouts on an engine.

    A pool pre-ping (PostgreSQL settings use pool_pre_ping) runs on the raw DBAPI
    connection, so it shows up as a checkout, not as a statement.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []
        self.checkouts = 0
        self.recording = False

    def _on_execute(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.recording:
            self.statements.append(statement)

    def _on_checkout(self, *args: Any) -> None:
        if self.recording:
            self.checkouts += 1

    def __enter__(self) -> SqlCounter:
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        event.listen(self.engine.pool, "checkout", self._on_checkout)
        self.recording = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.recording = False
        event.remove(self.engine, "before_cursor_execute", self._on_execute)
        event.remove(self.engine.pool, "checkout", self._on_checkout)


def short_sql(statement: str, width: int = 110) -> str:
    one_line = " ".join(statement.split())
    return one_line if len(one_line) <= width else one_line[: width - 3] + "..."


# ---- timing ----------------------------------------------------------------------------


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def summarise(latencies: list[float], elapsed: float, cpu: float | None = None) -> dict[str, float]:
    """Per-request wall latencies, the run's wall time and (optionally) the CPU time this
    thread spent, all in seconds -> requests/s and milliseconds.

    CPU time is the benchmark process's own work (not a database server's): it is much
    less disturbed than wall time when other jobs share the machine.
    """
    ordered = sorted(latencies)
    summary = {
        "requests": len(latencies),
        "requests_per_s": len(latencies) / elapsed if elapsed else float("nan"),
        "mean_ms": statistics.fmean(ordered) * 1000,
        "median_ms": statistics.median(ordered) * 1000,
        "p95_ms": percentile(ordered, 0.95) * 1000,
        "max_ms": ordered[-1] * 1000,
    }
    if cpu is not None:
        summary["cpu_ms_per_request"] = cpu / len(latencies) * 1000
    return summary


def run_requests(
    call: Callable[[int], Any], count: int, check: Callable[[Any], None]
) -> tuple[list[float], float, float]:
    """Call `call(i)` count times, timing each; `check` validates each response.
    Returns the latencies, the wall time and the thread's CPU time of the run."""
    latencies = []
    clock = time.perf_counter
    gc.collect()  # start each run with no garbage pending from the setup
    cpu_started = time.thread_time()
    started = clock()
    for i in range(count):
        t0 = clock()
        response = call(i)
        latencies.append(clock() - t0)
        check(response)
    return latencies, clock() - started, time.thread_time() - cpu_started


def load_warning() -> str | None:
    """A note when other work competes for the CPUs (figures then understate)."""
    try:
        load1 = os.getloadavg()[0]
    except OSError:
        return None
    cpus = os.cpu_count() or 1
    if load1 > 0.5 * cpus:
        return (
            f"warning: load average {load1:.1f} on {cpus} CPUs: other work is competing; "
            "wall-clock figures will be low and noisy (compare cpu ms)"
        )
    return None


def expect_status(status: int) -> Callable[[Any], None]:
    def check(response: Any) -> None:
        if response.status_code != status:
            raise RuntimeError(
                f"expected HTTP {status}, got {response.status_code}: {response.get_data()[:300]!r}"
            )

    return check


# ---- reporting -------------------------------------------------------------------------


def environment(base_url: str) -> dict[str, Any]:
    import sqlite3
    from importlib.metadata import version

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "flask": version("flask"),
        "sqlalchemy": version("sqlalchemy"),
        "database": database_kind(base_url),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "sqlite": sqlite3.sqlite_version,
    }
    info["commit"] = _git_commit()
    if using_postgres(base_url):
        engine = create_engine(base_url)
        with engine.connect() as conn:
            info["postgresql"] = conn.execute(text("SHOW server_version")).scalar()
        engine.dispose()
    return info


def _git_commit() -> str | None:
    import subprocess

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "app", "migrations"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + (" + uncommitted changes in app/" if dirty else "")


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 1000 else f"{value:.2f}"
    return str(value)
