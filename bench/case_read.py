"""Case read throughput: Ruta's audited, decrypted case read against a bare one-row read.

Design target: `GET /api/v1/cases/<id>` (token check, access check, decryption, audit
event, commit) at no less than 0.6 of the requests/s of a bare Flask + Flask-SQLAlchemy
app returning one row as JSON, on the same machine and the same kind of database.

Both run in-process through Flask's test client (no network, no WSGI server), so the
figures are the application's own cost. Also counts the SQL statements of one Ruta read.

`--caseload N` first writes N other cases (bench/caseload_data.py: survivors, parties,
assignments, follow-ups; 10,000 of them the reader's institution's) so that the read can
be timed at 10,000 and at 1,000,000 cases: it finds one case by its id and its parties by
index, and should cost the same at both sizes.

    .venv/bin/python bench/case_read.py [--requests 2000] [--caseload 1000000]
        [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/case_read.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.core.time import local_today
from bench.caseload_data import CaseloadSpec, seed_caseload
from bench.common import (
    RESULTS_DIR,
    RutaBench,
    SqlCounter,
    add_database_argument,
    bare_app,
    database_kind,
    environment,
    expect_status,
    load_warning,
    print_table,
    run_requests,
    ruta_app,
    scratch_database,
    short_sql,
    summarise,
    write_results,
)

TARGET_RATIO = 0.6  # the developers' guide; it was 0.5 before issue 16
COUNTED_READS = 20


# ---- Ruta's case -----------------------------------------------------------------------


def _intake(today_iso: str, earlier_iso: str) -> dict[str, Any]:
    return {
        "survivor": {
            "given_names": "María José",
            "family_names": "López Hernández",
            "dui": "12345678-4",
            "birth_date": "1994-03-15",
            "sex": "F",
            "municipality": "Sonsonate",
            "phone": "7777-1234",
            "address": "Colonia Las Palmeras, pasaje 3, casa 14",
            "safe_contact": "Hermana, 7777-9876, después de las 17:00",
        },
        "incident": {
            "occurred_on": earlier_iso,
            "municipality": "Sonsonate",
            "violence_types": ["physical", "psychological"],
            "perpetrator_relationship": "partner",
            "place_type": "home",
            "perpetrator_details": "Compañero de vida, 35 años.",
            "narrative": "Relato confidencial de la sobreviviente sobre la agresión. " * 8,
        },
        "consent": {"share_with_network": True, "statistics": True, "police": True},
    }


def _second_incident(on_iso: str) -> dict[str, Any]:
    return {
        "occurred_on": on_iso,
        "municipality": "Izalco",
        "violence_types": ["economic", "psychological"],
        "perpetrator_relationship": "former_partner",
        "place_type": "street",
        "perpetrator_details": "Expareja, amenazas por teléfono.",
        "narrative": "Segundo relato confidencial, amenazas y retención de dinero. " * 8,
    }


def make_case(bench: RutaBench) -> tuple[str, dict[str, str]]:
    """A case with two incidents, opened and extended through the API by a PNC agent."""
    agent = bench.add_user("pnc_agent", "PNC-SON", "agente.bench")
    client = bench.client()
    today = local_today()
    created = client.post(
        "/api/v1/cases",
        json=_intake(today.isoformat(), (today - timedelta(days=30)).isoformat()),
        headers=agent.headers,
    )
    expect_status(201)(created)
    case_id = created.get_json()["id"]
    added = client.post(
        f"/api/v1/cases/{case_id}/incidents",
        json=_second_incident((today - timedelta(days=3)).isoformat()),
        headers=agent.headers,
    )
    expect_status(201)(added)
    read = client.get(f"/api/v1/cases/{case_id}", headers=agent.headers)
    expect_status(200)(read)
    record = read.get_json()
    if len(record["incidents"]) != 2 or not record["incidents"][0]["narrative"]:
        raise RuntimeError(f"unexpected case record: {record}")
    return case_id, agent.headers


def _print_every_100_000(done: int) -> None:
    if done % 100_000 == 0:
        print(f"  {done:,} cases", flush=True)


def add_caseload(bench: RutaBench, total: int) -> dict[str, Any]:
    """`total` other cases around the measured one, 10,000 (at most) its institution's."""
    if total <= 0:
        return {"cases": 0}
    opener = bench.add_user("health_staff", "US-SON", "salud.caseload")
    worker = bench.add_user("pnc_agent", "PNC-SON", "agente.caseload")
    spec = CaseloadSpec(
        opener_user_id=opener.id,
        workers=(worker.id,),
        total=total,
        visible=min(total, 10_000),
    )
    started = time.perf_counter()
    seeded = seed_caseload(bench, spec, progress=_print_every_100_000)
    return {"cases": total, "seed_s": round(time.perf_counter() - started, 1), "rows": seeded.rows}


# ---- measuring -------------------------------------------------------------------------


class Target:
    """One endpoint to time: a client, a URL and its headers."""

    def __init__(self, client: Any, url: str, headers: dict[str, str]) -> None:
        self.client, self.url, self.headers = client, url, headers
        self.runs: list[dict[str, float]] = []

    def call(self, _: int) -> Any:
        return self.client.get(self.url, headers=self.headers)

    def run(self, count: int) -> None:
        self.runs.append(summarise(*run_requests(self.call, count, expect_status(200))))

    def best(self) -> dict[str, Any]:
        """The fastest run (least disturbed by other work), with every run's req/s."""
        best = max(self.runs, key=lambda r: r["requests_per_s"])
        return {
            **best,
            "rounds_requests_per_s": [round(r["requests_per_s"]) for r in self.runs],
            "min_cpu_ms_per_request": min(r["cpu_ms_per_request"] for r in self.runs),
        }


def measure(targets: list[Target], requests: int, warmup: int, rounds: int) -> None:
    """Warm every target up, then alternate them round by round, so that a burst of
    other work on the machine hits both rather than one."""
    for target in targets:
        run_requests(target.call, warmup, expect_status(200))
    for _ in range(rounds):
        for target in targets:
            target.run(requests)


def count_sql(engine: Any, target: Target) -> dict[str, Any]:
    with SqlCounter(engine) as counter:
        for i in range(COUNTED_READS):
            expect_status(200)(target.call(i))
    per_read = len(counter.statements) / COUNTED_READS
    one_read = counter.statements[: int(per_read)]
    return {
        "statements_per_read": per_read,
        "checkouts_per_read": counter.checkouts / COUNTED_READS,
        "statements": [" ".join(s.split()) for s in one_read],
    }


def profile_reads(target: Target, requests: int, top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(requests):
        target.call(i)
    profiler.disable()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(RESULTS_DIR / "case_read.prof"))
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per run")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="runs; the fastest is reported")
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile the Ruta reads (results/)"
    )
    parser.add_argument(
        "--caseload", type=int, default=0, help="other cases written first (say 10000, 1000000)"
    )
    add_database_argument(parser)
    args = parser.parse_args(argv)
    base_url = args.database_url
    kind = database_kind(base_url)

    warning = load_warning()
    if warning:
        print(warning)
    with tempfile.TemporaryDirectory(prefix="ruta-bench-") as tmpdir:
        tmp = Path(tmpdir)
        print(f"database: {kind}; {args.requests} requests x {args.rounds} rounds, alternating")
        with scratch_database(tmp, "bare", base_url) as bare_url, ruta_app(tmp, base_url) as bench:
            app, bare_db = bare_app(bare_url)
            with app.app_context():
                bare_engine = bare_db.engine
            caseload = add_caseload(bench, args.caseload)
            if caseload["cases"]:
                print(f"caseload: {caseload}")
            case_id, headers = make_case(bench)
            bare_target = Target(app.test_client(), "/rows/42", {})
            ruta_target = Target(bench.client(), f"/api/v1/cases/{case_id}", headers)
            measure([bare_target, ruta_target], args.requests, args.warmup, args.rounds)
            bare = bare_target.best()
            bare.update(count_sql(bare_engine, bare_target))
            ruta = ruta_target.best()
            ruta.update(count_sql(bench.engine, ruta_target))
            profile = profile_reads(ruta_target, args.requests, 40) if args.profile else None
            bare_engine.dispose()

    ratio = ruta["requests_per_s"] / bare["requests_per_s"]
    cpu_ratio = bare["min_cpu_ms_per_request"] / ruta["min_cpu_ms_per_request"]
    print()
    print_table(
        [
            "endpoint",
            "req/s",
            "mean ms",
            "median ms",
            "p95 ms",
            "cpu ms",
            "SQL/req",
            "req/s per round",
        ],
        [
            [
                "bare GET /rows/<id>",
                bare["requests_per_s"],
                bare["mean_ms"],
                bare["median_ms"],
                bare["p95_ms"],
                bare["min_cpu_ms_per_request"],
                bare["statements_per_read"],
                bare["rounds_requests_per_s"],
            ],
            [
                "Ruta GET /api/v1/cases/<id>",
                ruta["requests_per_s"],
                ruta["mean_ms"],
                ruta["median_ms"],
                ruta["p95_ms"],
                ruta["min_cpu_ms_per_request"],
                ruta["statements_per_read"],
                ruta["rounds_requests_per_s"],
            ],
        ],
    )
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(
        f"\nratio Ruta/bare: {ratio:.2f} req/s ({verdict} the target of {TARGET_RATIO:.2f}); "
        f"{cpu_ratio:.2f} by CPU time per request"
    )
    print(
        f"\nSQL of one Ruta case read ({ruta['statements_per_read']:g} statements, "
        f"{ruta['checkouts_per_read']:g} pool checkout(s)):"
    )
    for number, statement in enumerate(ruta["statements"], 1):
        print(f"  {number:2}. {short_sql(statement)}")
    if profile:
        print("\n" + profile)

    path = write_results(
        "case_read",
        {
            "environment": environment(base_url),
            "requests": args.requests,
            "rounds": args.rounds,
            "bare": bare,
            "ruta": ruta,
            "ratio": ratio,
            "ratio_by_cpu_time": cpu_ratio,
            "caseload": caseload,
            "load_warning": warning,
            "target_ratio": TARGET_RATIO,
        },
    )
    print(f"\nresults: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
