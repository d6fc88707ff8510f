"""Every upload is scanned by a real clamd before it is stored (ASVS 5.4.3).

The module starts Debian's clamd with a database of one signature of our own (no
signature download: the payload is a marker this file makes), on a Unix socket and on
a loopback TCP port, with a StreamMaxLength of 200 KiB so the size refusal is cheap to
reach. The marker travels inside files that are otherwise valid (a PNG's text chunk, a
PDF's page), so the sanitiser would pass them: only the antivirus refuses them.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import select

from app import create_app
from app.audit.models import AuditEvent
from app.cases.antivirus import SIZE_LIMIT, Clamd, ScannerUnavailable, Verdict, verdict_of
from app.cases.sanitise import sanitise
from app.extensions import db
from config import ConfigError, Settings, clamd_address
from tests.conftest import Person
from tests.test_robustness import assert_api_unavailable, assert_page_unavailable, free_port
from tests.test_uploads_sanitised import api_upload, open_case, png, png_chunk, stored, web_upload

MARKER = b"RUTA-PRUEBA-ANTIVIRUS-5.4.3"
SIGNATURE = "Ruta.Test.Marker"
FOUND = f"{SIGNATURE}.UNOFFICIAL"  # clamd's name for a signature outside its own databases
REFUSED = "El archivo fue rechazado por el antivirus."
TOO_LARGE = "El archivo es demasiado grande para que el antivirus lo revise."
START_SECONDS = 90


def _clamd_binary() -> str | None:
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return shutil.which("clamd", path=search)


CLAMD = _clamd_binary()
pytestmark = pytest.mark.skipif(
    CLAMD is None,
    reason="clamd is not installed (Debian's clamav-daemon; ./test.sh installs it as root)",
)


# ---- a real clamd, with one signature of ours ------------------------------------------


@dataclass(frozen=True)
class RunningClamd:
    socket: str
    port: int


def _configuration(home: Path, port: int) -> str:
    return "\n".join(
        [
            f"LocalSocket {home / 'clamd.sock'}",
            f"TCPSocket {port}",
            "TCPAddr 127.0.0.1",
            f"DatabaseDirectory {home / 'db'}",
            "Foreground yes",
            "StreamMaxLength 200K",
            "",
        ]
    )


def _answers_ping(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(2)
            conn.connect(path)
            conn.sendall(b"zPING\0")
            return conn.recv(16) == b"PONG\0"
    except OSError:
        return False


def _wait_until_ready(process: subprocess.Popen[bytes], path: str, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not _answers_ping(path):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"clamd did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def clamd() -> Iterator[RunningClamd]:
    assert CLAMD is not None
    # A short path: a Unix socket's name may not pass 107 bytes.
    home = Path(tempfile.mkdtemp(prefix="ruta-clamd-"))
    (home / "db").mkdir()
    (home / "db" / "ruta-test.ndb").write_text(f"{SIGNATURE}:0:*:{MARKER.hex()}\n")
    port = free_port()
    (home / "clamd.conf").write_text(_configuration(home, port))
    log = home / "clamd.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [CLAMD, "-c", str(home / "clamd.conf")], stdout=output, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_ready(process, str(home / "clamd.sock"), log)
        yield RunningClamd(str(home / "clamd.sock"), port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def scanned(app: Flask, clamd: RunningClamd) -> Flask:
    app.config["RUTA_CLAMD"] = clamd.socket
    return app


# ---- files: clean ones, and valid ones that carry the marker --------------------------


def marked_png() -> bytes:
    """A valid PNG whose text chunk carries the marker."""
    clean = png()
    header_end = 8 + 25  # signature, then IHDR: length, type, 13 bytes, CRC
    text = png_chunk(b"tEXt", b"Comment\0" + MARKER)
    return clean[:header_end] + text + clean[header_end:]


def pdf(page_text: bytes = b"") -> bytes:
    document = pikepdf.new()
    document.add_blank_page()
    if page_text:
        document.pages[0].obj.Contents = document.make_stream(b"% " + page_text + b"\n")
    out = io.BytesIO()
    document.save(out, compress_streams=False)
    return out.getvalue()


def noise_png(side: int = 300) -> bytes:
    """About 270 kB that no compressor shrinks: past the test clamd's 200 KiB limit."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


# ---- what the database and the store hold ----------------------------------------------


def refusals(app: Flask) -> list[AuditEvent]:
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.action == "attachment_refused")
        rows = list(db.session.execute(query).scalars())
        for row in rows:
            db.session.expunge(row)
        return rows


def stored_files(app: Flask) -> list[Path]:
    store = Path(app.config["RUTA_ATTACHMENTS_DIR"])
    return sorted(store.iterdir()) if store.exists() else []


def assert_nothing_stored(app: Flask) -> None:
    assert stored(app) == []
    assert stored_files(app) == []  # no file, and no temporary file left either


def assert_refusal_audited(app: Flask, person: Person, case_id: str, finding: str) -> None:
    (event,) = refusals(app)
    assert (event.username, str(event.case_id)) == (person.username, case_id)
    assert event.object_type == "attachment" and event.object_id is None
    assert event.detail == f"antivirus:{finding}"
    for column in (event.detail, event.reason, event.object_id):
        assert "marcad" not in (column or "")  # the uploader's file name is never audited


# ---- through both faces ------------------------------------------------------------------


def test_the_marked_files_are_valid_files_that_the_sanitiser_would_keep() -> None:
    assert sanitise(marked_png()).content_type == "image/png"
    assert sanitise(pdf(MARKER)).content_type == "application/pdf"


def test_a_clean_png_and_a_clean_pdf_pass_the_scanner_and_are_stored(scanned, client, pnc):
    case_id = open_case(client, pnc)
    for data, name, kind in ((png(), "foto.png", "image/png"), (pdf(), "acta.pdf", "x/y")):
        response = api_upload(client, pnc, case_id, data, name, kind)
        assert response.status_code == 201, response.get_json()
    assert [row.content_type for row in stored(scanned)] == ["image/png", "application/pdf"]
    assert len(stored_files(scanned)) == 2
    assert refusals(scanned) == []


def test_the_api_refuses_a_png_carrying_a_signature_with_422_and_stores_nothing(
    scanned, client, pnc
):
    case_id = open_case(client, pnc)
    response = api_upload(client, pnc, case_id, marked_png(), "foto-marcada.png", "image/png")
    assert response.status_code == 422, response.get_json()
    assert response.get_json() == {
        "error": "invalid",
        "message": REFUSED,
        "fields": {"file": [REFUSED]},
    }
    assert_nothing_stored(scanned)
    assert_refusal_audited(scanned, pnc, case_id, FOUND)


def test_the_case_page_refuses_a_pdf_carrying_a_signature_and_says_why(scanned, client, pnc):
    case_id = open_case(client, pnc)
    page, refused = web_upload(scanned, pnc, case_id, pdf(MARKER), "acta-marcada.pdf", "x/y")
    # Answered like the page's other refused files: back to the form, with its error.
    assert refused.status_code == 303
    assert refused.headers["Location"].endswith("#adjuntos")
    assert REFUSED in page.get(refused.headers["Location"]).get_data(as_text=True)
    assert_nothing_stored(scanned)
    assert_refusal_audited(scanned, pnc, case_id, FOUND)


def test_a_file_longer_than_clamds_stream_limit_is_refused_not_passed(scanned, client, pnc):
    case_id = open_case(client, pnc)
    response = api_upload(client, pnc, case_id, noise_png(), "grande.png", "image/png")
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["fields"] == {"file": [TOO_LARGE]}
    assert_nothing_stored(scanned)
    assert_refusal_audited(scanned, pnc, case_id, SIZE_LIMIT)


def test_without_a_scanner_configured_uploads_are_not_scanned(app, client, pnc):
    """./run.sh's demo and the other tests: no RUTA_CLAMD, no scan (and no refusal)."""
    assert app.config["RUTA_CLAMD"] is None
    case_id = open_case(client, pnc)
    response = api_upload(client, pnc, case_id, marked_png(), "foto.png", "image/png")
    assert response.status_code == 201, response.get_json()
    assert refusals(app) == []


def test_a_scanner_whose_socket_is_gone_answers_503_on_both_faces_and_stores_nothing(
    app, client, pnc, tmp_path
):
    app.config["RUTA_CLAMD"] = str(tmp_path / "clamd-stopped.sock")
    case_id = open_case(client, pnc)
    assert_api_unavailable(api_upload(client, pnc, case_id, png(), "foto.png", "image/png"))
    _, page = web_upload(app, pnc, case_id, png(), "foto.png", "image/png")
    assert_page_unavailable(page)
    assert_nothing_stored(app)
    assert refusals(app) == []


def test_a_scanner_that_refuses_connections_on_its_port_answers_503(app, client, pnc):
    app.config["RUTA_CLAMD"] = ("127.0.0.1", free_port())
    case_id = open_case(client, pnc)
    assert_api_unavailable(api_upload(client, pnc, case_id, png(), "foto.png", "image/png"))
    assert_nothing_stored(app)


# ---- the client's framing, against the real clamd -------------------------------------


def test_a_marker_split_across_two_chunks_is_found_once_clamd_joins_the_stream(clamd):
    scanner = Clamd(clamd.socket, chunk_bytes=1000)
    data = b"a" * 990 + MARKER + b"b" * 5000  # the marker crosses the first chunk's end
    assert scanner.scan(data) == Verdict(FOUND)


def test_a_stream_of_many_chunks_without_the_marker_is_clean(clamd):
    scanner = Clamd(clamd.socket, chunk_bytes=4096)
    assert scanner.scan(os.urandom(150_000)) == Verdict()
    assert scanner.scan(b"") == Verdict()


def test_the_marker_at_the_end_of_a_long_stream_is_found_over_tcp(clamd):
    scanner = Clamd(("127.0.0.1", clamd.port))
    assert scanner.scan(os.urandom(150_000) + MARKER) == Verdict(FOUND)


def test_past_the_stream_limit_clamd_hangs_up_and_the_verdict_is_a_refusal(clamd):
    assert Clamd(clamd.socket).scan(b"x" * (200 * 1024 + 1)) == Verdict(SIZE_LIMIT)


def test_a_daemon_that_never_answers_is_unavailable_after_the_timeout(tmp_path):
    path = str(tmp_path / "silent.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.bind(path)
        silent.listen(1)  # connections queue; nobody ever reads or answers them
        started = time.monotonic()
        with pytest.raises(ScannerUnavailable) as raised:
            Clamd(path, timeout=0.5).scan(b"hola")
    assert raised.value.fields["cause"] == "antivirus:timeout"
    assert time.monotonic() - started < 5


def test_replies_other_than_a_verdict_are_an_outage_never_a_pass():
    assert verdict_of("stream: OK") == Verdict()
    assert verdict_of("stream: Win.Test.EICAR_HDB-1 FOUND") == Verdict("Win.Test.EICAR_HDB-1")
    assert verdict_of("stream: <script>x</script> FOUND").refused == "_script_x__script_"
    for reply in ("stream: Can't allocate memory ERROR", "UNKNOWN COMMAND", "stream:"):
        with pytest.raises(ScannerUnavailable):
            verdict_of(reply)


# ---- configuration and start-up ---------------------------------------------------------


def test_ruta_clamd_takes_a_socket_path_or_host_and_port():
    assert clamd_address("") is None
    assert clamd_address("/run/clamav/clamd.ctl") == "/run/clamav/clamd.ctl"
    assert clamd_address("127.0.0.1:3310") == ("127.0.0.1", 3310)
    assert clamd_address("[::1]:3310") == ("::1", 3310)
    for wrong in ("clamd", "clamd.ctl", "host:", ":3310", "host:99999", "host:tres"):
        with pytest.raises(ConfigError):
            clamd_address(wrong)
    env = {"RUTA_CLAMD": "/run/clamav/clamd.ctl"}
    assert Settings.from_env(env).to_flask()["RUTA_CLAMD"] == "/run/clamav/clamd.ctl"
    assert Settings.from_env({}).to_flask()["RUTA_CLAMD"] is None


def start_up(settings: Settings, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    app = create_app(settings)
    with app.app_context():
        db.engine.dispose()
    return [line for line in capsys.readouterr().err.splitlines() if "RUTA_CLAMD" in line]


def test_production_without_a_scanner_warns_once_at_start_up(settings, capsys):
    settings.secure_cookies = True
    (line,) = start_up(settings, capsys)
    assert '"level": "WARNING"' in line and '"logger": "ruta.startup"' in line
    assert "Uploads are not scanned by an antivirus" in line


def test_no_warning_with_a_scanner_or_on_the_plain_http_demo(settings, capsys):
    assert start_up(settings, capsys) == []  # secure cookies off, as ./run.sh sets them
    settings.secure_cookies = True
    settings.clamd = "/run/clamav/clamd.ctl"
    assert start_up(settings, capsys) == []
