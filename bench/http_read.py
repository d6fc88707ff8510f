"""Over real HTTP: Ruta's case read and case page against a bare Flask app, under gunicorn.

Four targets, each app behind its own gunicorn (sync workers, `--workers 2`, 127.0.0.1),
loaded with wrk (`-t2 -c16 -d10s`), one target after the other in every round:

* bare:        `GET /rows/<id>` of a bare Flask + Flask-SQLAlchemy app (one row as JSON);
* bare+insert: `GET /rows/<id>/with-insert`, the same plus one audit-sized INSERT and a commit;
* api:         Ruta's `GET /api/v1/cases/<id>` with a PNC agent's bearer token;
* page:        Ruta's case page `GET /cases/<id>` with her signed-in session cookie.

Reported per target: requests/s (best round and every round), latency p50/p95, the ratios
to bare and bare+insert, SQL statements and round trips per request (counted in-process),
CPU per request of the gunicorn processes (and of PostgreSQL), and the workers' RSS after
`--memory-requests` api requests. Targets (issue 16): api >= 0.6 x bare, api >= 0.9 x
bare+insert, page >= 0.25 x bare, every worker under 150 MB.

    .venv/bin/python bench/http_read.py [--duration 10] [--rounds 3] [--connections 16]
        [--memory-requests 10000] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):  # run as `python bench/http_read.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import http.client
import http.cookiejar
import itertools
import json
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

# Not when standing in for `http` above: werkzeug or flask is half imported then.
if __name__ != "http":
    from sqlalchemy import create_engine, event, text

    from bench import http_apps
    from bench.case_read import make_case
    from bench.common import (
        PASSWORD,
        ROOT,
        SqlCounter,
        add_database_argument,
        bare_app,
        database_kind,
        environment,
        load_warning,
        percentile,
        print_table,
        ruta_app,
        scratch_database,
        using_postgres,
        write_results,
    )
if TYPE_CHECKING:
    from flask.testing import FlaskClient
    from sqlalchemy.engine import Engine

    from bench.common import RutaBench

TARGETS = {"api / bare": 0.6, "api / bare+insert": 0.9, "page / bare": 0.25}
RSS_TARGET_MB = 150.0
WARM_REQUESTS = 30  # in-process, before counting: psycopg prepares a statement at its 5th run
COUNTED_REQUESTS = 20
READY_SECONDS = 60
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# ---- processes (Linux /proc) ---------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    name: str
    cpu: float  # seconds, user + system


def processes() -> dict[int, Proc]:
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()  # from field 3 (state) on
        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
        found[int(entry.name)] = Proc(int(entry.name), int(fields[1]), name, cpu)
    return found


def rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else None


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU spent between two snapshots by the processes alive at the second (one that
    started in between counts from zero; one that ended in between is lost)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def own_and_children_cpu() -> float:
    """This process and its waited-for children (wrk): the load generator's CPU."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# ---- gunicorn --------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    application_name: str | None  # PostgreSQL application_name of its connections
    wanted_workers: int
    known_workers: set[int] = field(default_factory=set)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def workers(self, table: dict[int, Proc] | None = None) -> list[int]:
        table = processes() if table is None else table
        found = sorted(p.pid for p in table.values() if p.ppid == self.process.pid)
        self.known_workers.update(found)
        return found

    def cpu(self, table: dict[int, Proc]) -> dict[int, float]:
        pids = [self.process.pid, *self.workers(table)]
        return {pid: table[pid].cpu for pid in pids if pid in table}

    def restarts(self) -> int:
        """Workers booted beyond the first ones (one killed on a timeout, say): their
        successors' figures would not be those of workers that served the whole run."""
        try:
            booted = self.log.read_text(errors="replace").count("Booting worker")
        except OSError:
            return 0
        return max(0, booted - self.wanted_workers)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(
    name: str, factory: str, env: dict[str, str], workers: int, tmp: Path, probe: str
) -> Iterator[Server]:
    """`gunicorn 'bench.http_apps:<factory>()'` until the block ends, whatever happens."""
    port = free_port()
    log = tmp / f"gunicorn-{name}.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
        "--no-control-socket",
        "--chdir",
        str(ROOT),
        f"bench.http_apps:{factory}()",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, process, port, log, env.get("BENCH_HTTP_APPLICATION_NAME"), workers)
    try:
        wait_until_serving(server, probe, workers)
        yield server
    finally:
        stop(server)


def wait_until_serving(server: Server, probe: str, workers: int) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn ({server.name}) exited:\n{server.log_tail()}")
        try:
            get(server.port, probe, {})
        except OSError:
            time.sleep(0.2)
            continue
        if len(server.workers()) >= workers:
            return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn ({server.name}) not serving after {READY_SECONDS} s")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()  # graceful: the workers finish their request and exit
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    # A worker outlives a master that was killed: end ours, by pid, if still there (and
    # still ours: the pid not reused by another program since).
    for pid in server.known_workers:
        with suppress(OSError):
            if "bench.http_apps" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                os.kill(pid, signal.SIGKILL)


# ---- HTTP ------------------------------------------------------------------------------


def get(port: int, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def csrf_token(html: str) -> str:
    found = _CSRF.search(html)
    if not found:
        raise RuntimeError("no csrf_token in the login page")
    return found.group(1)


def login_form(username: str, page_html: str) -> dict[str, str]:
    # MFA as in the benchmark's settings (require_mfa off, users without TOTP): no code.
    return {
        "username": username,
        "password": PASSWORD,
        "otp": "",
        "csrf_token": csrf_token(page_html),
    }


def session_cookie_over_http(server: Server, username: str, cookie_name: str) -> str:
    """Log in through the login form as a browser does; the session cookie's header."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(server.url("/login"), timeout=30) as page:
        form = login_form(username, page.read().decode())
    with opener.open(server.url("/login"), data=urlencode(form).encode(), timeout=30) as done:
        done.read()  # the redirect to the dashboard, followed
    for cookie in jar:
        if cookie.name == cookie_name:
            return f"{cookie.name}={cookie.value}"
    raise RuntimeError(f"no {cookie_name} cookie after logging in as {username}")


def signed_in_test_client(bench: RutaBench, username: str) -> FlaskClient:
    client = bench.client()
    form = login_form(username, client.get("/login").get_data(as_text=True))
    answer = client.post("/login", data=form)
    if answer.status_code != 302:
        raise RuntimeError(f"login as {username}: HTTP {answer.status_code}")
    return client


# ---- load ------------------------------------------------------------------------------


@dataclass
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    errors: dict[str, int]

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else float("nan")


@dataclass(frozen=True)
class LoadOptions:
    client: str  # "wrk" or "python"
    threads: int
    connections: int
    tmp: Path


_WRK_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH-JSON {"requests": %d, "duration_us": %d, "p50_us": %d, '
    .. '"p95_us": %d, "p99_us": %d, "mean_us": %d, "max_us": %d, "connect": %d, '
    .. '"read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.mean, latency.max, e.connect, e.read, e.write,
    e.status, e.timeout))
end
"""


def wrk_script(headers: dict[str, str], path: Path) -> Path:
    lines = [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    path.write_text("\n".join(lines) + _WRK_DONE)
    return path


def run_wrk(
    url: str, headers: dict[str, str], seconds: float, options: LoadOptions, limit: int = 0
) -> Load:
    """wrk for `seconds` (it cannot stop after a number of requests: `limit` is for the
    Python client only; see send_requests)."""
    script = wrk_script(headers, options.tmp / f"wrk-{abs(hash(url))}.lua")
    command = [
        "wrk",
        f"--threads={options.threads}",
        f"--connections={options.connections}",
        f"--duration={max(1, round(seconds))}s",
        "--timeout=10s",
        f"--script={script}",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((s for s in done.stdout.splitlines() if s.startswith("BENCH-JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("BENCH-JSON "))
    return Load(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p95_ms=raw["p95_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        mean_ms=raw["mean_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        errors={k: raw[k] for k in ("connect", "read", "write", "status", "timeout")},
    )


def run_python_client(
    url: str, headers: dict[str, str], seconds: float, options: LoadOptions, limit: int = 0
) -> Load:
    """Without wrk: one thread per connection, http.client; the GIL makes it a slower,
    hungrier client than wrk (its CPU is reported as the client's)."""
    port = int(url.split(":")[2].split("/")[0])
    path = "/" + url.split("/", 3)[3]
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    issued = itertools.count()
    started = time.perf_counter()
    deadline = started + seconds

    def connection() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.perf_counter() < deadline and (not limit or next(issued) < limit):
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
            except OSError:
                errors["read"] += 1
                conn.close()
                continue
            latencies.append(time.perf_counter() - t0)
            if response.status >= 400:
                errors["status"] += 1
        conn.close()

    threads = [threading.Thread(target=connection) for _ in range(options.connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [float("nan")]
    return Load(
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=percentile(ordered, 0.50) * 1000,
        p95_ms=percentile(ordered, 0.95) * 1000,
        p99_ms=percentile(ordered, 0.99) * 1000,
        mean_ms=statistics.fmean(ordered) * 1000,
        max_ms=ordered[-1] * 1000,
        errors={k: errors[k] for k in ("connect", "read", "write", "status", "timeout")},
    )


def run_load(
    url: str, headers: dict[str, str], seconds: float, options: LoadOptions, limit: int = 0
) -> Load:
    runner = run_wrk if options.client == "wrk" else run_python_client
    return runner(url, headers, seconds, options, limit)


def send_requests(target: Target, count: int, rate: float, options: LoadOptions) -> Load:
    """At least `count` requests. wrk runs for a duration, not a number of requests: runs
    sized by the rate seen so far, until that many are answered (a few more, often)."""
    url = target.server.url(target.path)
    if options.client != "wrk":
        return run_load(url, target.headers, 24 * 3600, options, limit=count)
    runs: list[Load] = []
    while sum(r.requests for r in runs) < count:
        left = count - sum(r.requests for r in runs)
        load = run_wrk(url, target.headers, max(1.0, left / rate), options)
        if load.errors["status"]:
            raise RuntimeError(f"{target.name}: {load.errors['status']} responses >= 400")
        runs.append(load)
        rate = max(1.0, load.requests_per_s)
    seconds = sum(r.seconds for r in runs)
    return Load(
        requests=sum(r.requests for r in runs),
        seconds=seconds,
        p50_ms=max(r.p50_ms for r in runs),
        p95_ms=max(r.p95_ms for r in runs),
        p99_ms=max(r.p99_ms for r in runs),
        mean_ms=sum(r.mean_ms * r.requests for r in runs) / max(1, sum(r.requests for r in runs)),
        max_ms=max(r.max_ms for r in runs),
        errors={k: sum(r.errors[k] for r in runs) for k in runs[0].errors},
    )


# ---- PostgreSQL ------------------------------------------------------------------------


class Postgres:
    """The backends serving a gunicorn's connections, found by their application_name."""

    def __init__(self, base_url: str) -> None:
        self.engine = create_engine(base_url, isolation_level="AUTOCOMMIT")

    def backends(self, application_name: str) -> list[int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                {"name": application_name},
            )
            return [int(pid) for pid in rows.scalars()]

    def close(self) -> None:
        self.engine.dispose()


def with_application_name(url: str, name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


# ---- measuring -------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    label: str
    server: Server
    path: str
    headers: dict[str, str]
    rounds: list[dict[str, Any]] = field(default_factory=list)
    sql: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        status, body = get(self.server.port, self.path, self.headers)
        if status != 200:
            raise RuntimeError(f"{self.name}: GET {self.path} -> {status}: {body[:300]!r}")

    def best(self) -> dict[str, Any]:
        """The fastest round (least disturbed by other work), with every round's req/s
        and the least CPU per request seen in any round."""
        best = max(self.rounds, key=lambda r: r["requests_per_s"])

        def least(key: str) -> float | None:
            values = [r[key] for r in self.rounds if r[key] is not None]
            return min(values) if values else None

        return {
            **best,
            "rounds_requests_per_s": [round(r["requests_per_s"]) for r in self.rounds],
            "min_server_cpu_ms": least("server_cpu_ms"),
            "min_backend_cpu_ms": least("backend_cpu_ms"),
            "min_server_and_backend_cpu_ms": least("server_and_backend_cpu_ms"),
            "min_postgres_cpu_ms": least("postgres_cpu_ms"),
            "min_client_cpu_ms": least("client_cpu_ms"),
        }


@dataclass
class Snapshot:
    server: dict[int, float]
    backends: dict[int, float] | None
    postgres: dict[int, float] | None
    client: float


def snapshot(server: Server, pg: Postgres | None) -> Snapshot:
    backend_pids = pg.backends(server.application_name) if pg and server.application_name else []
    table = processes()
    backends = {pid: table[pid].cpu for pid in backend_pids if pid in table} if pg else None
    postgres = {pid: p.cpu for pid, p in table.items() if p.name == "postgres"} if pg else None
    return Snapshot(server.cpu(table), backends, postgres, own_and_children_cpu())


def per_request_ms(seconds: float | None, requests: int) -> float | None:
    return None if seconds is None or not requests else seconds / requests * 1000


def measure_round(
    target: Target, seconds: float, options: LoadOptions, pg: Postgres | None
) -> None:
    before = snapshot(target.server, pg)
    load = run_load(target.server.url(target.path), target.headers, seconds, options)
    after = snapshot(target.server, pg)
    if load.errors["status"]:
        raise RuntimeError(f"{target.name}: {load.errors['status']} responses >= 400")
    target.check()  # still 200 (wrk does not count a redirect to the login page as an error)
    server = cpu_delta(before.server, after.server)
    backends = (
        cpu_delta(before.backends, after.backends)
        if before.backends is not None and after.backends is not None
        else None
    )
    postgres = (
        cpu_delta(before.postgres, after.postgres)
        if before.postgres is not None and after.postgres is not None
        else None
    )
    n = load.requests
    target.rounds.append(
        {
            "requests": n,
            "seconds": load.seconds,
            "requests_per_s": load.requests_per_s,
            "p50_ms": load.p50_ms,
            "p95_ms": load.p95_ms,
            "p99_ms": load.p99_ms,
            "mean_ms": load.mean_ms,
            "max_ms": load.max_ms,
            "socket_errors": {k: v for k, v in load.errors.items() if k != "status"},
            "server_cpu_ms": per_request_ms(server, n),
            "backend_cpu_ms": per_request_ms(backends, n),
            "server_and_backend_cpu_ms": per_request_ms(server + (backends or 0.0), n),
            "postgres_cpu_ms": per_request_ms(postgres, n),
            "client_cpu_ms": per_request_ms(after.client - before.client, n),
        }
    )


def workers_rss(server: Server) -> list[float]:
    return [round(mb, 1) for pid in server.workers() if (mb := rss_mb(pid)) is not None]


# ---- counting SQL and round trips (in-process) -----------------------------------------


class RoundTrips:
    """What psycopg's connections exchange with the server, from libpq's own trace.

    A round trip is one wait for the server: each ends with the server's ReadyForQuery.
    The trace starts at a connection's first checkout here, after that checkout's
    pre-ping: so pings are counted as the pool's checkouts instead (one each).
    """

    def __init__(self, engine: Engine, tmp: Path) -> None:
        self.engine = engine
        self.tmp = tmp
        self.traced: dict[int, tuple[Any, Any]] = {}
        self.pre_ping = bool(getattr(engine.pool, "_pre_ping", False))

    def _on_checkout(self, dbapi_connection: Any, *args: Any) -> None:
        if id(dbapi_connection) in self.traced:
            return
        from psycopg import pq

        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in __exit__)
            "w", dir=self.tmp, prefix="libpq-", suffix=".trace", delete=False
        )
        dbapi_connection.pgconn.trace(handle.fileno())
        dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        self.traced[id(dbapi_connection)] = (dbapi_connection, handle)

    def __enter__(self) -> RoundTrips:
        event.listen(self.engine.pool, "checkout", self._on_checkout)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine.pool, "checkout", self._on_checkout)
        for dbapi_connection, handle in self.traced.values():
            dbapi_connection.pgconn.untrace()  # flushes the trace
            handle.close()

    def counts(self, checkouts: int) -> dict[str, int]:
        found: Counter[str] = Counter()
        for _, handle in self.traced.values():
            for line in Path(handle.name).read_text().splitlines():
                parts = line.split("\t")
                if parts[0] == "B" and parts[2] == "ReadyForQuery":
                    found["round_trips"] += 1
                elif parts[0] == "F" and parts[2] == "Query":
                    sql = parts[3].strip().strip('"')
                    kind = sql if sql in ("BEGIN", "COMMIT", "ROLLBACK") else "other_simple"
                    found["ping" if sql == ";" else kind] += 1
                elif parts[0] == "F" and parts[2] == "Sync":
                    found["extended"] += 1
        traced_pings = found.pop("ping", 0)
        pings = checkouts if self.pre_ping else 0
        found["round_trips"] += pings - traced_pings
        return {"ping": pings, **found}


def count_sql(
    engine: Engine, client: FlaskClient, path: str, headers: dict[str, str], tmp: Path
) -> dict[str, Any]:
    """Statements (before_cursor_execute), commits and, on PostgreSQL, round trips per
    request, over COUNTED_REQUESTS requests through the test client on the same app."""

    def call() -> None:
        answer = client.get(path, headers=headers)
        if answer.status_code != 200:
            raise RuntimeError(f"GET {path} -> {answer.status_code} while counting SQL")

    for _ in range(WARM_REQUESTS):
        call()
    commits = Counter[str]()

    def on_commit(*args: Any) -> None:
        commits["commit"] += 1

    postgres = engine.dialect.name == "postgresql"
    event.listen(engine, "commit", on_commit)
    try:
        with ExitStack() as stack:
            counter = stack.enter_context(SqlCounter(engine))
            trips = stack.enter_context(RoundTrips(engine, tmp)) if postgres else None
            for _ in range(COUNTED_REQUESTS):
                call()
    finally:
        event.remove(engine, "commit", on_commit)
    n = COUNTED_REQUESTS
    result: dict[str, Any] = {
        "statements": len(counter.statements) / n,
        "commits": commits["commit"] / n,
        "checkouts": counter.checkouts / n,
        "statements_of_one_request": [
            " ".join(s.split()) for s in counter.statements[: len(counter.statements) // n]
        ],
    }
    if trips is not None:
        result["round_trips"] = {k: v / n for k, v in trips.counts(counter.checkouts).items()}
    return result


# ---- reporting -------------------------------------------------------------------------


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def verdict(value: float | None, target: float, at_least: bool = True) -> str:
    if value is None:
        return "not measured"
    met = value >= target if at_least else value < target
    return "meets" if met else "MISSES"


def dash(value: Any) -> Any:
    return "-" if value is None else value


def round_trip_cell(sql: dict[str, Any]) -> str:
    trips = sql.get("round_trips")
    if trips is None:
        return "-"
    parts = "+".join(f"{trips.get(k, 0):g}" for k in ("BEGIN", "COMMIT", "ROLLBACK", "ping"))
    return f"{trips['round_trips']:g} ({sql['statements']:g} SQL + {parts})"


def print_report(
    targets: dict[str, Target],
    best: dict[str, dict[str, Any]],
    ratios: dict[str, dict[str, float | None]],
    rss: dict[str, Any],
    postgres: bool,
    restarts: dict[str, int],
) -> None:
    print()
    print_table(
        ["target", "req/s", "p50 ms", "p95 ms", "/ bare", "/ bare+insert", "req/s per round"],
        [
            [
                f"{name:<12} {t.label}",
                best[name]["requests_per_s"],
                best[name]["p50_ms"],
                best[name]["p95_ms"],
                ratio(best[name]["requests_per_s"], best["bare"]["requests_per_s"]),
                dash(
                    ratio(best[name]["requests_per_s"], best["bare+insert"]["requests_per_s"])
                    if name in ("api", "page")
                    else None
                ),
                best[name]["rounds_requests_per_s"],
            ]
            for name, t in targets.items()
        ],
    )
    print()
    cpu_headers = ["target", "SQL/req", "commits/req"]
    if postgres:
        cpu_headers += ["round trips/req (SQL + BEGIN+COMMIT+ROLLBACK+ping)"]
    cpu_headers += ["gunicorn cpu ms/req"]
    if postgres:
        cpu_headers += ["its PG backends", "all postgres"]
    cpu_headers += ["client cpu ms/req"]
    rows = []
    for name, t in targets.items():
        b = best[name]
        row = [name, t.sql["statements"], t.sql["commits"]]
        if postgres:
            row += [round_trip_cell(t.sql)]
        row += [b["min_server_cpu_ms"]]
        if postgres:
            row += [dash(b["min_backend_cpu_ms"]), dash(b["min_postgres_cpu_ms"])]
        row += [b["min_client_cpu_ms"]]
        rows.append(row)
    print_table(cpu_headers, rows)
    if postgres:
        print(
            "(cpu: the least over the rounds; 'all postgres': every postgres process on the "
            "machine, other sessions' work included)"
        )
    else:
        print("(cpu: the least over the rounds; SQLite works inside the gunicorn workers)")
    print()
    for server, samples in rss.items():
        for when, values in samples.items():
            print(f"RSS of the {server} workers {when.replace('_', ' ')}: {values} MB")
    for server, count in restarts.items():
        print(f"warning: {count} {server} worker(s) restarted during the run (gunicorn log)")
    print()
    print("targets:")
    for name, target in TARGETS.items():
        by_rps, by_cpu = ratios[name]["requests_per_s"], ratios[name]["cpu"]
        cpu_note = f", {by_cpu:.2f} by CPU per request" if by_cpu is not None else ""
        shown = "-" if by_rps is None else f"{by_rps:.2f}"
        print(
            f"  {name:<18} {shown} by req/s{cpu_note}"
            f"  (target >= {target:.2f}: {verdict(by_rps, target)})"
        )
    worst = rss.get("ruta", {}).get("after_memory_requests")
    worst_mb = max(worst) if worst else None
    print(
        f"  {'worker RSS':<18} {dash(worst_mb)} MB max after the memory run "
        f"(target < {RSS_TARGET_MB:.0f} MB: {verdict(worst_mb, RSS_TARGET_MB, at_least=False)})"
    )


# ---- the run ---------------------------------------------------------------------------


def pick_client(requested: str) -> str:
    if requested in ("auto", "wrk") and shutil.which("wrk"):
        return "wrk"
    if requested == "wrk":
        raise SystemExit("wrk is not on PATH (apt-get install -y wrk)")
    return "python"


def tool_versions(client: str) -> dict[str, str | None]:
    from importlib.metadata import version

    wrk = None
    if client == "wrk":
        shown = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        wrk = (
            (shown.stdout or shown.stderr).splitlines()[0]
            if (shown.stdout or shown.stderr)
            else None
        )
    return {"gunicorn": version("gunicorn"), "wrk": wrk}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds of load per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the fastest is reported")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per app")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of load per target first")
    parser.add_argument(
        "--memory-requests",
        type=int,
        default=10_000,
        help="api requests sent at the end before reading the workers' RSS (0: none)",
    )
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk when on PATH (auto), or a Python http.client loop",
    )
    add_database_argument(parser)
    args = parser.parse_args(argv)
    base_url = args.database_url
    kind = database_kind(base_url)
    postgres = using_postgres(base_url)
    client = pick_client(args.client)

    warning = load_warning()
    if warning:
        print(warning)
    if client != "wrk":
        print("wrk not used: load from a Python http.client loop in this process (slower)")
    print(
        f"database: {kind}; gunicorn --workers {args.workers} (sync) per app; "
        f"{client} {args.threads} threads x {args.connections} connections, "
        f"{args.duration:g} s x {args.rounds} rounds, targets in turn"
    )

    with tempfile.TemporaryDirectory(prefix="ruta-bench-http-") as tmpdir, ExitStack() as stack:
        tmp = Path(tmpdir)
        bare_url = stack.enter_context(scratch_database(tmp, "bare", base_url))
        bench = stack.enter_context(ruta_app(tmp, base_url))
        bare, bare_db = bare_app(bare_url)
        with bare.app_context():
            bare_engine = bare_db.engine
        stack.callback(bare_engine.dispose)
        if not postgres:  # the same kind of database as Ruta's, which sets WAL
            with bare_engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL").fetchall()
        case_id, token_headers = make_case(bench)
        agent = next(u for u in bench.users.values() if u.headers == token_headers)

        print("counting SQL in-process ...")
        web = signed_in_test_client(bench, agent.username)
        sql = {
            "bare": count_sql(bare_engine, bare.test_client(), "/rows/42", {}, tmp),
            "bare+insert": count_sql(
                bare_engine, bare.test_client(), "/rows/42/with-insert", {}, tmp
            ),
            "api": count_sql(
                bench.engine, bench.client(), f"/api/v1/cases/{case_id}", token_headers, tmp
            ),
            "page": count_sql(bench.engine, web, f"/cases/{case_id}", {}, tmp),
        }

        pg = Postgres(base_url) if postgres else None
        if pg:
            stack.callback(pg.close)
        run_name = f"ruta-bench-http-{os.getpid()}"
        bare_env = {http_apps.DATABASE_URL: bare_url}
        ruta_env = {
            http_apps.DATABASE_URL: bench.database_url,
            http_apps.INSTANCE_DIR: str(tmp),
            http_apps.SECRET_KEY: str(bench.app.config["SECRET_KEY"]),
        }
        if postgres:
            for env, name in ((bare_env, "bare"), (ruta_env, "ruta")):
                application_name = f"{run_name}-{name}"
                env[http_apps.DATABASE_URL] = with_application_name(
                    env[http_apps.DATABASE_URL], application_name
                )
                env["BENCH_HTTP_APPLICATION_NAME"] = application_name
        print("starting gunicorn ...")
        bare_server = stack.enter_context(
            gunicorn("bare", "bare_app", bare_env, args.workers, tmp, "/rows/42")
        )
        ruta_server = stack.enter_context(
            gunicorn("ruta", "ruta_app", ruta_env, args.workers, tmp, "/login")
        )
        cookie = session_cookie_over_http(
            ruta_server, agent.username, bench.app.config["SESSION_COOKIE_NAME"]
        )
        targets = {
            "bare": Target("bare", "GET /rows/<id>", bare_server, "/rows/42", {}),
            "bare+insert": Target(
                "bare+insert", "GET /rows/<id>/with-insert", bare_server, "/rows/42/with-insert", {}
            ),
            "api": Target(
                "api",
                "GET /api/v1/cases/<id>",
                ruta_server,
                f"/api/v1/cases/{case_id}",
                token_headers,
            ),
            "page": Target(
                "page", "GET /cases/<id>", ruta_server, f"/cases/{case_id}", {"Cookie": cookie}
            ),
        }
        for name, target in targets.items():
            target.sql = sql[name]
            target.check()

        options = LoadOptions(client, args.threads, args.connections, tmp)
        print("warming up ...")
        for target in targets.values():
            run_load(target.server.url(target.path), target.headers, args.warmup, options)
        for number in range(1, args.rounds + 1):
            print(f"round {number}/{args.rounds} ...")
            for target in targets.values():
                measure_round(target, args.duration, options, pg)
        rss: dict[str, dict[str, list[float]]] = {
            "bare": {"after_rounds": workers_rss(bare_server)},
            "ruta": {"after_rounds": workers_rss(ruta_server)},
        }
        memory_run: dict[str, Any] | None = None
        if args.memory_requests > 0:
            api = targets["api"]
            print(f"memory: {args.memory_requests} api requests ...")
            rate = max(r["requests_per_s"] for r in api.rounds)
            load = send_requests(api, args.memory_requests, rate, options)
            memory_run = {"requests": load.requests, "seconds": load.seconds}
            rss["ruta"]["after_memory_requests"] = workers_rss(ruta_server)
        restarts = {s.name: s.restarts() for s in (bare_server, ruta_server) if s.restarts()}
        load_after = os.getloadavg()[0]

    best = {name: t.best() for name, t in targets.items()}

    def cpu_of(name: str) -> float | None:
        return best[name]["min_server_and_backend_cpu_ms"]

    ratios = {
        "api / bare": {
            "requests_per_s": ratio(best["api"]["requests_per_s"], best["bare"]["requests_per_s"]),
            "cpu": ratio(cpu_of("bare"), cpu_of("api")),
        },
        "api / bare+insert": {
            "requests_per_s": ratio(
                best["api"]["requests_per_s"], best["bare+insert"]["requests_per_s"]
            ),
            "cpu": ratio(cpu_of("bare+insert"), cpu_of("api")),
        },
        "page / bare": {
            "requests_per_s": ratio(best["page"]["requests_per_s"], best["bare"]["requests_per_s"]),
            "cpu": ratio(cpu_of("bare"), cpu_of("page")),
        },
    }
    print_report(targets, best, ratios, rss, postgres, restarts)
    if memory_run:
        print(
            f"(memory run: {memory_run['requests']} api requests counted by the client "
            f"in {memory_run['seconds']:.0f} s)"
        )
    late_warning = load_warning()
    if late_warning and not warning:
        print(late_warning)

    path = write_results(
        f"http_{kind}",
        {
            "environment": {**environment(base_url), **tool_versions(client)},
            "command": sys.argv,
            "client": client,
            "options": vars(args),
            "targets": {
                name: {"label": t.label, "best": best[name], "rounds": t.rounds, "sql": t.sql}
                for name, t in targets.items()
            },
            "ratios": ratios,
            "goals": {**TARGETS, "worker_rss_mb_below": RSS_TARGET_MB},
            "rss_mb": rss,
            "memory_run": memory_run,
            "worker_restarts": restarts,
            "load_warning": warning or late_warning,
            "load_average_1min_after": load_after,
        },
    )
    print(f"\nresults: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
