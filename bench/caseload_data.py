"""A synthetic caseload for the benchmarks: `total` cases in all, `visible` of them with
one institution as a party, written in chunks straight into the tables (no ORM, no
services, no audit): SQLAlchemy Core bulk inserts, and COPY on PostgreSQL.

Each case has its survivor, its parties, a responsible worker per party
(`case_assignments`) and, for some, a pending follow-up. The measured institution's
cases rotate over its workers (about one in ten left without one), over the statuses
and risk levels, the municipalities and a year of activity, so that every filter of the
work list has rows to find and rows to skip. All cases share one data key (the app
gives each its own; decrypting costs the same either way). Names are sealed for the
visible cases; the others get a placeholder unless `seal_hidden` (slower), since a
query of the measured institution never reaches them.

Reused by `bench/work_list.py`; `bench/search.py` (the partial-name search) may import
`seed_caseload`, `survivor_name` and `is_visible`, and add rows of its own per survivor
(name tokens, say) through `extra_rows`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text

from app.cases.care_models import FollowUp
from app.cases.models import Case, CaseParty, Survivor
from app.cases.record_models import CaseAssignment
from app.crypto.envelope import FieldCipher, new_data_key, wrap_data_key
from app.crypto.models import DataKey
from app.directory.models import Institution, Municipality
from app.extensions import db
from bench.common import RutaBench

# Institutions that open the cases the measured one is not a party to, round robin.
OTHER_INSTITUTIONS = ("US-SON", "UMM-SON", "PNC-ACA", "US-ACA", "UMM-ACA", "HOSP-SON", "IML-SON")
GIVEN = ("Ana", "Berta", "Carmen", "Dolores", "Elsa", "Fátima", "Gloria", "Hilda", "Irma",
         "Julia", "Karla", "Lorena", "Marta", "Nidia", "Olga", "Paula", "Rosa", "Sara",
         "Teresa", "Vilma", "Xiomara", "Yanira", "Zoila")  # fmt: skip
FAMILY = ("Alas", "Bonilla", "Calderón", "Deras", "Escalante", "Funes", "Galdámez",
          "Huezo", "Iraheta", "Jovel", "Landaverde", "Martínez", "Navas", "Osorio",
          "Palacios", "Quijada", "Rauda", "Solórzano", "Trejo", "Urrutia", "Villalta")  # fmt: skip
STATUSES = ("open",) * 7 + ("follow_up",) * 2 + ("closed",)
RISKS = (None, "standard", "standard", "standard", "medium", "medium", "high")
PLACEHOLDER = b"\x00" * 48  # never opened: no query of the measured institution reads it
PIN_HASH = "$argon2id$bench$not-a-real-hash"  # the status lookup is not measured


def mix(i: int) -> int:
    """A cheap, stable scramble of i (Knuth's multiplicative hash)."""
    return (i * 2654435761 + 0x9E3779B9) & 0xFFFFFFFF


def survivor_name(i: int) -> tuple[str, str]:
    h = mix(i)
    return GIVEN[
        h % len(GIVEN)
    ], f"{FAMILY[(h >> 7) % len(FAMILY)]} {FAMILY[(h >> 13) % len(FAMILY)]}"


@dataclass(frozen=True)
class CaseloadSpec:
    opener_user_id: int  # any user: cases need an opener (foreign key)
    workers: tuple[int, ...]  # the measured institution's workers
    total: int = 1_000_000
    visible: int = 10_000
    institution: str = "PNC-SON"
    chunk: int = 10_000
    seal_hidden: bool = False
    follow_up_share: float = 0.4  # of the visible cases, with a pending follow-up
    unassigned_share: float = 0.1


def is_visible(i: int, spec: CaseloadSpec) -> bool:
    """Spread evenly over the numbers: case i is the measured institution's."""
    step = max(1, spec.total // max(1, spec.visible))
    return i % step == 0 and i // step < spec.visible


@dataclass
class Seeded:
    key_id: uuid.UUID
    rows: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


ExtraRows = Callable[[int, dict[str, Any], bool], dict[Any, list[dict[str, Any]]]]


@dataclass
class _Context:
    spec: CaseloadSpec
    cipher: FieldCipher
    institution_id: int
    others: list[int]
    municipalities: list[str]
    now: datetime
    today: date


def _case_rows(i: int, ctx: _Context) -> dict[Any, list[dict[str, Any]]]:
    spec, h = ctx.spec, mix(i)
    seen = is_visible(i, spec)
    survivor_id, case_id = uuid.uuid4(), uuid.uuid4()
    given, family = survivor_name(i)
    sealed = seen or spec.seal_hidden

    def seal(name: str, value: str) -> bytes:
        return ctx.cipher.seal("survivors", survivor_id, name, value) if sealed else PLACEHOLDER

    updated = ctx.now - timedelta(minutes=h % (365 * 24 * 60))
    # Half of hers she opened; the other half came to her by a referral.
    opener = ctx.institution_id if seen and (h >> 23) % 2 else ctx.others[i % len(ctx.others)]
    survivor = {
        "id": survivor_id,
        "given_names_enc": seal("given_names", given),
        "family_names_enc": seal("family_names", family),
        "sex": "F",
        "birth_year": 1960 + h % 45,
        "municipality": ctx.municipalities[(h >> 3) % len(ctx.municipalities)],
        "created_at": updated,
        "version": 1,
    }
    case = {
        "id": case_id,
        "number": f"SON-2026-{i + 1:07d}",
        "survivor_id": survivor_id,
        "data_key_id": ctx.cipher.key_id,
        "status": STATUSES[(h >> 5) % len(STATUSES)],
        "risk_level": RISKS[(h >> 9) % len(RISKS)],
        "mandatory_report": False,
        "consent_network": True,
        "consent_statistics": True,
        "consent_police": False,
        "opened_by_institution_id": opener,
        "opened_by_user_id": spec.opener_user_id,
        "status_code_bidx": f"bench{i:027d}",  # unique, 32 characters like a real one
        "status_pin_hash": PIN_HASH,
        "created_at": updated - timedelta(days=h % 90),
        "updated_at": updated,
        "version": 1,
    }
    parties = [{"case_id": case_id, "institution_id": opener, "reason": "opened", "since": updated}]
    assignments = [
        {"case_id": case_id, "institution_id": opener, "user_id": spec.opener_user_id,
         "assigned_at": updated}
    ]  # fmt: skip
    follow_ups = []
    if not seen and (h >> 19) % 10 == 0:  # the other institutions plan contacts too
        follow_ups.append(_follow_up(case_id, opener, spec, ctx, h, updated))
    if seen:
        if opener != ctx.institution_id:  # she received it by a referral
            parties.append(
                {**parties[0], "institution_id": ctx.institution_id, "reason": "referral"}
            )
        worker = None
        if (h >> 11) % 1000 >= spec.unassigned_share * 1000 and spec.workers:
            worker = spec.workers[(h >> 17) % len(spec.workers)]
        if opener == ctx.institution_id:
            assignments[0]["user_id"] = worker
        else:
            assignments.append({**assignments[0], "institution_id": ctx.institution_id,
                                "user_id": worker})  # fmt: skip
        if (h >> 19) % 1000 < spec.follow_up_share * 1000:
            follow_ups.append(_follow_up(case_id, ctx.institution_id, spec, ctx, h, updated))
    return {
        Survivor: [survivor],
        Case: [case],
        CaseParty: parties,
        CaseAssignment: assignments,
        FollowUp: follow_ups,
    }


def _follow_up(
    case_id: uuid.UUID, institution_id: int, spec: CaseloadSpec, ctx: _Context, h: int, at: Any
) -> dict[str, Any]:
    """A pending contact within a month either side of today."""
    return {
        "id": uuid.uuid4(),
        "case_id": case_id,
        "institution_id": institution_id,
        "created_by_user_id": spec.opener_user_id,
        "channel": "phone",
        "due_on": ctx.today + timedelta(days=(h >> 21) % 61 - 30),
        "created_at": at,
        "version": 1,
    }


def _chunks(total: int, size: int) -> Iterator[range]:
    for start in range(0, total, size):
        yield range(start, min(start + size, total))


def _shared_key(conn: Any, bench: RutaBench) -> FieldCipher:
    ring = bench.app.extensions["ruta.keyring"]
    key_id, key = uuid.uuid4(), new_data_key()
    kek_id = ring.active_kek_id
    conn.execute(
        insert(DataKey.__table__),
        {
            "id": key_id,
            "kek_id": kek_id,
            "wrapped": wrap_data_key(kek_id, ring.kek(kek_id), key_id, key),
            "created_at": datetime.now(UTC),
        },
    )
    return FieldCipher(key_id, key)


def seed_caseload(
    bench: RutaBench,
    spec: CaseloadSpec,
    extra_rows: ExtraRows | None = None,
    progress: Callable[[int], None] | None = None,
) -> Seeded:
    """Insert the caseload; `extra_rows(i, survivor_row, visible)` may add rows of other
    tables (inserted after these, in the same chunk)."""
    with bench.app.app_context():
        engine = db.engine
        with engine.begin() as conn:
            codes = dict(conn.execute(select(Institution.code, Institution.id)).all())
            municipalities = list(
                conn.execute(select(Municipality.code).order_by(Municipality.code)).scalars()
            )
            cipher = _shared_key(conn, bench)
        now = datetime.now(UTC)
        ctx = _Context(
            spec,
            cipher,
            codes[spec.institution],
            [codes[code] for code in OTHER_INSTITUTIONS],
            municipalities,
            now,
            now.date(),
        )
        seeded = Seeded(cipher.key_id)
        with engine.connect() as conn:
            _fast_load(conn)
            for numbers in _chunks(spec.total, spec.chunk):
                _insert_chunk(conn, numbers, ctx, seeded, extra_rows)
                if progress:
                    progress(numbers.stop)
        started = time.perf_counter()
        _analyze(engine)
        seeded.timings["analyze_s"] = time.perf_counter() - started
        db.session.remove()
        engine.dispose()
    return seeded


def _insert_chunk(
    conn: Any, numbers: range, ctx: _Context, seeded: Seeded, extra_rows: ExtraRows | None
) -> None:
    started = time.perf_counter()
    tables: dict[Any, list[dict[str, Any]]] = {}
    for i in numbers:
        rows = _case_rows(i, ctx)
        if extra_rows:
            rows.update(extra_rows(i, rows[Survivor][0], is_visible(i, ctx.spec)))
        for table, table_rows in rows.items():
            tables.setdefault(table, []).extend(table_rows)
    built = time.perf_counter()
    with conn.begin():
        for model, table_rows in tables.items():
            if table_rows:
                table = getattr(model, "__table__", model)
                if conn.dialect.name == "postgresql":
                    _copy(conn, table, table_rows)
                else:
                    conn.execute(insert(table), table_rows)
                seeded.rows[table.name] = seeded.rows.get(table.name, 0) + len(table_rows)
    seeded.timings["build_s"] = seeded.timings.get("build_s", 0.0) + built - started
    seeded.timings["insert_s"] = seeded.timings.get("insert_s", 0.0) + time.perf_counter() - built


def _copy(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL's COPY, several times faster than INSERT for a load this size. The
    values go as the app stores them: UTC moments without their zone (`UTCDateTime`)."""
    columns = list(rows[0])
    cursor = conn.connection.dbapi_connection.cursor()
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"  # names from the models
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([_stored(row[column]) for column in columns])


def _stored(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _fast_load(conn: Any) -> None:
    """A throwaway database, for this connection only (the pool is emptied afterwards,
    so the measured requests run with the app's settings): SQLite with a big page cache
    and no fsync; PostgreSQL without waiting for the disk at commit and without the
    per-row foreign-key triggers (the generated rows point at rows that exist)."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        raw.execute("PRAGMA cache_size=-262144")
        raw.execute("PRAGMA synchronous=OFF")
    elif conn.dialect.name == "postgresql":
        conn.execute(text("SET synchronous_commit = off"))
        conn.execute(text("SET session_replication_role = replica"))
        conn.commit()


def _analyze(engine: Any) -> None:
    """Statistics for the planner, and on PostgreSQL the visibility map that lets it
    read an index alone: what autovacuum does some time after a load like this one."""
    if engine.dialect.name == "postgresql":
        _vacuum_own_schema(engine)
        return
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    if engine.dialect.name == "sqlite":
        # Fold the bulk load's write-ahead log into the file now, not in a timed commit.
        with engine.connect() as conn:
            conn.connection.dbapi_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _vacuum_own_schema(engine: Any, attempts: int = 10) -> None:
    """VACUUM ANALYZE the tables of the benchmark's own schema only: a bare VACUUM would
    work through every schema of a database that others' test runs share. A page is
    marked all-visible only once no open transaction could still miss its rows, so while
    other sessions hold transactions (a test suite on the same server) some pages stay
    unmarked; the tables left so are vacuumed again, a few seconds apart."""
    unmarked = text(
        "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
        " AND relkind = 'r' AND relpages > 10 AND relallvisible < relpages * 0.99"
    )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        tables = list(
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            ).scalars()
        )
        for _ in range(attempts):
            for table in tables:
                conn.execute(text(f'VACUUM ANALYZE "{table}"'))  # names from the catalogue
            tables = list(conn.execute(unmarked).scalars())
            if not tables:
                return
            time.sleep(3)
        print(f"  visibility map still incomplete after {attempts} VACUUMs: {tables}")
