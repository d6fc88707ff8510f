"""Statistics at scale: the observatory's counts and indicators over 100,000 incidents.

Target: the month's `by=municipality,violence_type` by incidents, cases and women, the
year by month, and the network indicators of a month and of a year, each under 1 s at
1,000,000 incidents (`--incidents 1000000`) on this machine.

The data set is written with SQLAlchemy Core bulk inserts straight into a migrated
Ruta database (SQLite by default, PostgreSQL with --database-url): survivors, cases
(90 % with consent to statistics), one or two incidents per case with one to three
violence types, referrals with their acceptance events, follow-ups, complaints and
protection measures. Ciphertext columns hold a placeholder: nothing here decrypts.

    .venv/bin/python bench/stats.py [--incidents 100000] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/stats.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from app.cases.care_models import FollowUp
from app.cases.legal_models import Complaint, ProtectionMeasure
from app.cases.models import Case, Incident, Survivor, incident_violence_types
from app.cases.vocab import age_group, context_of, gbvims_type
from app.crypto.models import DataKey
from app.directory.models import Institution, Municipality
from app.extensions import db
from app.referrals.models import Referral, ReferralEvent
from app.reports.indicators import network_indicators
from app.reports.stats import StatsQuery, stats_table
from app.reports.stored import COUNTS, INDICATORS, take_changes
from bench.common import (
    add_database_argument,
    database_kind,
    environment,
    load_warning,
    print_table,
    ruta_app,
    write_results,
)

TARGET_SECONDS = 1.0
FIRST_DAY = date(2025, 1, 1)
LAST_DAY = date(2026, 10, 31)
# The observatory publishes tables by whole month, a year only by month and in the
# indicators (app/reports/cube.py): the data set's last month, and its last year.
MONTH_FIRST, MONTH_LAST = date(2026, 10, 1), date(2026, 10, 31)
YEAR_FIRST, YEAR_LAST = date(2026, 1, 1), date(2026, 12, 31)
CHUNK = 5_000
TYPES = ("physical", "psychological", "sexual", "patrimonial", "economic", "symbolic",
         "feminicidal")  # fmt: skip
TYPE_WEIGHTS = (30, 35, 12, 6, 8, 6, 3)
RELATIONSHIPS = ("partner", "former_partner", "family", "acquaintance", "stranger", "other")
SERVICES = ("medical", "psychological", "legal_aid", "police_complaint", "social_support")
REFERRAL_STATUSES = ("sent", "accepted", "in_progress", "completed", "declined", "cancelled")
PLACEHOLDER = b"bench: not a ciphertext"


# ---- the data set ----------------------------------------------------------------------


class Seeder:
    """Builds rows in memory and writes them in chunks, table by table."""

    def __init__(
        self,
        rng: random.Random,
        users: dict[str, int],
        institutions: dict[str, int],
        municipalities: list[str],
        data_key_id: uuid.UUID,
    ) -> None:
        self.rng = rng
        self.users = users
        self.institutions = institutions
        self.municipalities = municipalities
        self.data_key_id = data_key_id
        self.rows: dict[Any, list[dict[str, Any]]] = {}
        self.now = datetime.now(UTC)

    def add(self, table: Any, row: dict[str, Any]) -> None:
        self.rows.setdefault(table, []).append(row)

    def case(self, number: int) -> None:
        rng = self.rng
        survivor_id, case_id = uuid.uuid4(), uuid.uuid4()
        birth_year = rng.randint(1950, 2015)
        place = rng.choice(self.municipalities)
        self.add(
            Survivor.__table__,
            {
                "id": survivor_id,
                "given_names_enc": PLACEHOLDER,
                "family_names_enc": PLACEHOLDER,
                "sex": rng.choices("FMX", (92, 6, 2))[0],
                "birth_year": birth_year,
                "municipality": place,
                # One code per woman: the single record holds one survivor per woman.
                "stat_code": f"B{number:015d}",
                "stat_key_id": "bench",
                "created_at": self.now,
            },
        )
        opener = rng.choice(("PNC-SON", "US-SON", "UMM-SON"))
        risk = rng.choices(("standard", "medium", "high", None), (50, 20, 15, 15))[0]
        self.add(
            Case.__table__,
            {
                "id": case_id,
                "number": f"SON-B-{number:07d}",
                "survivor_id": survivor_id,
                "data_key_id": self.data_key_id,
                "status": rng.choice(("open", "follow_up", "closed")),
                "risk_level": risk,
                "mandatory_report": False,
                "consent_network": True,
                "consent_statistics": rng.random() < 0.9,
                "consent_police": rng.random() < 0.5,
                "opened_by_institution_id": self.institutions[opener],
                "opened_by_user_id": self.users[opener],
                "status_code_bidx": f"{number:016x}",
                "status_pin_hash": "bench",
                "created_at": self.now,
                "updated_at": self.now,
                "version": 1,
            },
        )
        return case_id, place, birth_year, opener, risk

    def incident(self, case_id: uuid.UUID, place: str, birth_year: int, opener: str) -> None:
        rng = self.rng
        occurred = FIRST_DAY + timedelta(days=rng.randint(0, (LAST_DAY - FIRST_DAY).days))
        reported = occurred + timedelta(days=min(rng.expovariate(1 / 6), 120))
        types = sorted(set(rng.choices(TYPES, TYPE_WEIGHTS, k=rng.randint(1, 3))))
        age = occurred.year - birth_year
        relationship = rng.choice(RELATIONSHIPS)
        penetration = "sexual" in types and rng.random() < 0.5
        incident_id = uuid.uuid4()
        self.add(
            Incident.__table__,
            {
                "id": incident_id,
                "case_id": case_id,
                "occurred_on": occurred,
                "reported_on": min(reported, LAST_DAY + timedelta(days=20)),
                "municipality": place if rng.random() < 0.8 else rng.choice(self.municipalities),
                "place_type": "home",
                "violence_codes": " ".join(types),
                "penetration": penetration,
                "perpetrator_relationship": relationship,
                "age_group": age_group(age),
                "gbvims_type": gbvims_type(types, penetration, False, False),
                "context": context_of(relationship, types, age),
                "entry_institution_id": self.institutions[opener],
                "recorded_by_user_id": self.users[opener],
                "created_at": self.now,
            },
        )
        for code in types:
            self.add(incident_violence_types, {"incident_id": incident_id, "violence_type": code})

    def referral(self, case_id: uuid.UUID, opener: str) -> None:
        rng = self.rng
        sent = datetime.combine(FIRST_DAY, datetime.min.time(), UTC) + timedelta(
            minutes=rng.randint(0, (LAST_DAY - FIRST_DAY).days * 1440)
        )
        status = rng.choices(REFERRAL_STATUSES, (10, 10, 15, 50, 10, 5))[0]
        receiver = rng.choice(("HOSP-SON", "US-SON", "UMM-SON", "PNC-SON", "UMM-ACA"))
        referral_id = uuid.uuid4()
        closed = (
            sent + timedelta(hours=rng.expovariate(1 / 120))
            if status in ("completed", "declined", "cancelled")
            else None
        )
        self.add(
            Referral.__table__,
            {
                "id": referral_id,
                "case_id": case_id,
                "from_institution_id": self.institutions[opener],
                "to_institution_id": self.institutions[receiver],
                "service": rng.choice(SERVICES),
                "urgency": "priority",
                "status": status,
                "due_on": sent.date() + timedelta(days=3),
                "consent": True,
                "mandatory_report": False,
                "tracked_by_sender": False,
                "created_by_user_id": self.users[opener],
                "created_at": sent,
                "updated_at": sent,
                "closed_at": closed,
                "version": 1,
            },
        )
        if status in ("accepted", "in_progress", "completed"):
            self.add(
                ReferralEvent.__table__,
                {
                    "referral_id": referral_id,
                    "action": "accept",
                    "from_status": "sent",
                    "to_status": "accepted",
                    "at": sent + timedelta(hours=rng.expovariate(1 / 20)),
                    "user_id": self.users["US-SON"],
                    "institution_id": self.institutions[receiver],
                },
            )

    def follow_up(self, case_id: uuid.UUID) -> None:
        due = FIRST_DAY + timedelta(days=self.rng.randint(0, (LAST_DAY - FIRST_DAY).days))
        done = due + timedelta(days=self.rng.randint(-3, 4)) if self.rng.random() < 0.8 else None
        self.add(
            FollowUp.__table__,
            {
                "id": uuid.uuid4(),
                "case_id": case_id,
                "institution_id": self.institutions["UMM-SON"],
                "created_by_user_id": self.users["UMM-SON"],
                "due_on": due,
                "channel": "phone",
                "done_on": done,
                "created_at": self.now,
                "version": 1,
            },
        )

    def protection(self, case_id: uuid.UUID) -> None:
        complaint_id = uuid.uuid4()
        self.add(
            Complaint.__table__,
            {
                "id": complaint_id,
                "case_id": case_id,
                "institution_id": self.institutions["PNC-SON"],
                "user_id": self.users["PNC-SON"],
                "number": "DEN-BENCH",
                "filed_on": LAST_DAY,
                "forward_to_prosecutor": False,
                "status": "received",
                "created_at": self.now,
            },
        )
        self.add(
            ProtectionMeasure.__table__,
            {
                "id": uuid.uuid4(),
                "complaint_id": complaint_id,
                "case_id": case_id,
                "measure": "keep_away",
                "requested": True,
                "granted": True,
                "status": self.rng.choice(("active", "active", "expired")),
                "created_at": self.now,
                "updated_at": self.now,
                "version": 1,
            },
        )

    def flush(self, conn: Any) -> None:
        for table, rows in self.rows.items():
            for start in range(0, len(rows), CHUNK):
                conn.execute(insert(table), rows[start : start + CHUNK])
        self.rows = {}


def seed(bench: Any, incidents: int, rng: random.Random) -> dict[str, int]:
    """Writes about `incidents` incidents (one or two per case); returns the row counts."""
    users = {
        code: bench.add_user(role, code, f"bench.{code.lower()}").id
        for code, role in (
            ("PNC-SON", "pnc_agent"),
            ("US-SON", "health_staff"),
            ("UMM-SON", "womens_office"),
        )
    }
    with bench.app.app_context(), db.engine.begin() as conn:
        rows = conn.execute(select(Institution.code, Institution.id))
        institutions = {code: id_ for code, id_ in rows}
        municipalities = list(conn.execute(select(Municipality.code)).scalars())
        key_id = uuid.uuid4()
        conn.execute(
            insert(DataKey.__table__),
            [
                {
                    "id": key_id,
                    "kek_id": "bench",
                    "wrapped": PLACEHOLDER,
                    "created_at": datetime.now(UTC),
                }
            ],
        )
        seeder = Seeder(rng, users, institutions, municipalities, key_id)
        made, number = 0, 0
        while made < incidents:
            number += 1
            case_id, place, birth_year, opener, risk = seeder.case(number)
            for _ in range(min(1 if rng.random() < 0.75 else 2, incidents - made)):
                seeder.incident(case_id, place, birth_year, opener)
                made += 1
            if rng.random() < 0.5:
                seeder.referral(case_id, opener)
            if rng.random() < 0.4:
                seeder.follow_up(case_id)
            if risk == "high" and rng.random() < 0.6:
                seeder.protection(case_id)
            if number % 10_000 == 0:
                seeder.flush(conn)
        seeder.flush(conn)
        # The notes of the bulk load are taken once, as the first count would, and the
        # database tidied as autovacuum would: the measures are of a running observatory.
        for ledger in (COUNTS, INDICATORS):
            take_changes(Session(bind=conn), ledger)
    with bench.app.app_context(), db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        postgresql = database_kind(bench.database_url) == "postgresql"
        conn.execute(text("VACUUM ANALYZE" if postgresql else "ANALYZE"))
        return table_counts(conn)


def table_counts(conn: Any) -> dict[str, int]:
    return {
        name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()  # noqa: S608
        for name in (
            "cases",
            "incidents",
            "incident_violence_types",
            "referrals",
            "follow_ups",
            "protection_measures",
        )
    }


# ---- timing ----------------------------------------------------------------------------


def timed(
    call: Callable[[], Any], repeat: int, before: Callable[[], Any] | None = None
) -> dict[str, float]:
    """Wall and CPU milliseconds of `call`: the first run (cold: counted from the
    incidents, unless an earlier call stored the same counts), best and median of
    `repeat` runs. `before` runs untimed before each."""
    wall, cpu = [], []
    for _ in range(repeat):
        if before is not None:
            before()
        w0, c0 = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return {
        "first_ms": wall[0] * 1000,
        "best_ms": min(wall) * 1000,
        "median_ms": statistics.median(wall) * 1000,
        "cpu_median_ms": statistics.median(cpu) * 1000,
    }


def touch_the_month(session: Any) -> None:
    """A write to one incident of the measured month, as a correction would make."""
    session.execute(
        text(
            "UPDATE incidents SET age_group = age_group WHERE id = (SELECT id FROM incidents "
            "WHERE occurred_on >= :first ORDER BY occurred_on LIMIT 1)"
        ),
        {"first": MONTH_FIRST},
    )
    session.commit()  # as its request would: the next count is another transaction


def touch_a_referral(session: Any) -> None:
    """A write to one referral sent in mid-month, as its receiver's answer would."""
    session.execute(
        text(
            "UPDATE referrals SET status = status WHERE id = (SELECT id FROM referrals "
            "WHERE created_at >= :middle ORDER BY created_at LIMIT 1)"
        ),
        {"middle": MONTH_FIRST + timedelta(days=14)},
    )
    session.commit()


def measure(bench: Any, repeat: int, only: str = "") -> dict[str, dict[str, float]]:
    # A kept data set already has the supervisor of an earlier run.
    supervisor = bench.add_user("supervisor", "RED-SON", f"bench.sup{uuid.uuid4().hex[:8]}")
    client = bench.client()
    period = {"from": MONTH_FIRST.isoformat(), "to": MONTH_LAST.isoformat()}

    def api(path: str, **query: str) -> Callable[[], Any]:
        def call() -> None:
            response = client.get(
                path, headers=supervisor.headers, query_string={**period, **query}
            )
            assert response.status_code == 200, response.get_data()[:300]

        return call

    def table(by: tuple[str, ...], unit: str = "incidents", year: bool = False) -> Any:
        first, last = (YEAR_FIRST, YEAR_LAST) if year else (MONTH_FIRST, MONTH_LAST)
        query = StatsQuery(first, last, by, unit=unit)
        return lambda: stats_table(db.session, query)

    by_place_and_type = ("municipality", "violence_type")
    with bench.app.app_context():
        session = db.session
        runs: dict[str, Callable[[], dict[str, float]]] = {
            "stats by=municipality,violence_type (a month)": lambda: timed(
                table(by_place_and_type), repeat
            ),
            "stats ... unit=cases": lambda: timed(table(by_place_and_type, "cases"), repeat),
            "stats ... unit=survivors": lambda: timed(
                table(by_place_and_type, "survivors"), repeat
            ),
            "stats by=month (2026, its months)": lambda: timed(
                table(("month",), year=True), repeat
            ),
            "stats by=month unit=survivors (2026)": lambda: timed(
                table(("month",), "survivors", year=True), repeat
            ),
            "stats by=referral_service,municipality": lambda: timed(
                table(("referral_service", "municipality")), repeat
            ),
            "indicators (a month)": lambda: timed(
                lambda: network_indicators(session, MONTH_FIRST, MONTH_LAST), repeat
            ),
            "indicators (2026)": lambda: timed(
                lambda: network_indicators(session, YEAR_FIRST, YEAR_LAST), repeat
            ),
            "... after a write to the month (counted again)": lambda: timed(
                table(by_place_and_type), repeat, before=lambda: touch_the_month(session)
            ),
            "... unit=cases (2026) after a write to the month": lambda: timed(
                table(by_place_and_type, "cases", year=True),
                repeat,
                before=lambda: touch_the_month(session),
            ),
            "... unit=survivors (2026) after a write to the month": lambda: timed(
                table(by_place_and_type, "survivors", year=True),
                repeat,
                before=lambda: touch_the_month(session),
            ),
            "indicators (2026) after a referral of the month changed": lambda: timed(
                lambda: network_indicators(session, YEAR_FIRST, YEAR_LAST),
                repeat,
                before=lambda: touch_a_referral(session),
            ),
            "GET /api/v1/stats by=municipality,violence_type": lambda: timed(
                api("/api/v1/stats", by="municipality,violence_type"), repeat
            ),
            "GET /api/v1/stats/indicators": lambda: timed(api("/api/v1/stats/indicators"), repeat),
        }
        # `--only indicators`: just the entries whose name holds the word.
        return {name: run() for name, run in runs.items() if only in name}


@contextmanager
def kept_or_temporary(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def seeded_counts(bench: Any) -> dict[str, int] | None:
    """The row counts of a data set kept from an earlier run, or None when there is none."""
    with bench.app.app_context(), db.engine.connect() as conn:
        if not conn.execute(text("SELECT count(*) FROM incidents")).scalar_one():
            return None
        return table_counts(conn)


def forget_stored_counts(bench: Any) -> None:
    with bench.app.app_context(), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM stat_counts"))
        # with nothing stored, the notes tell nothing (and a data set seeded before 0031 has none)
        conn.execute(text("DELETE FROM indicator_changes"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--keep",
        type=Path,
        help="build the data set in this folder (PostgreSQL: in the schema bench_ruta_kept) "
        "and reuse it on the next run",
    )
    parser.add_argument("--only", default="", help="time only the entries named with this")
    add_database_argument(parser)
    args = parser.parse_args(argv)
    rng = random.Random(20261122)
    with (
        kept_or_temporary(args.keep) as tmp,
        ruta_app(tmp, args.database_url, keep=args.keep is not None) as bench,
    ):
        started = time.perf_counter()
        counts = seeded_counts(bench) or seed(bench, args.incidents, rng)
        forget_stored_counts(bench)  # so that each first answer is counted from the incidents
        seeded_in = time.perf_counter() - started
        print(f"seeded in {seeded_in:.1f} s on {database_kind(args.database_url)}: {counts}")
        figures = measure(bench, args.repeat, args.only)
    rows = [
        [name, f["first_ms"], f["best_ms"], f["median_ms"], f["cpu_median_ms"]]
        for name, f in figures.items()
    ]
    print_table(["measured", "first ms", "best ms", "median ms", "cpu ms"], rows)
    slow = [name for name, f in figures.items() if f["median_ms"] > TARGET_SECONDS * 1000]
    warning = load_warning()
    if warning:
        print(warning)
    verdict = "met" if not slow else f"missed by: {', '.join(slow)}"
    print(f"target: each under {TARGET_SECONDS:.0f} s at {args.incidents:,} incidents: {verdict}")
    write_results(
        f"stats_{database_kind(args.database_url)}",
        {
            "environment": environment(args.database_url),
            "incidents": args.incidents,
            "rows": counts,
            "seed_seconds": seeded_in,
            "figures": figures,
            "target_met": not slow,
        },
    )
    return 0 if not slow else 1


if __name__ == "__main__":
    sys.exit(main())
