"""`audit ship` and `audit compare` (ASVS 16.4.3): the audit events leave the host over
TLS to a syslog receiver (RFC 5425) or to a second disk, each once, in the chain's order,
and a copy shows what the database lost or changed afterwards."""

from __future__ import annotations

import contextlib
import datetime
import json
import re
import socket
import socketserver
import ssl
import stat
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask
from sqlalchemy import select, text

from app.audit.models import AuditEvent, AuditLink
from app.audit.seal import seal
from app.audit.service import Actor, record_event
from app.extensions import db
from config import ConfigError, Settings
from tests.conftest import USING_PG
from tests.factories import incident, intake, survivor

RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<time>\S+) (?P<host>\S+) (?P<app>\S+) (?P<proc>\S+) "
    r"(?P<msgid>\S+) (?P<sd>-) (?P<msg>.*)$",
    re.DOTALL,
)
LOCAL0_INFO = 16 * 8 + 6


# ---- certificates made here: a CA, the log host's certificate, a client's ---------------


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


def _key_and_name(common: str) -> tuple[Any, x509.Name]:
    return ec.generate_private_key(ec.SECP256R1()), x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    )


def _write(directory: Path, stem: str, cert: x509.Certificate, key: Any) -> Issued:
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Issued(cert_path, key_path)


class Authority:
    """A certificate authority of its own, issuing for names it is told."""

    def __init__(self, directory: Path, common: str) -> None:
        self.directory = directory
        self.key, self.name = _key_and_name(common)
        builder = (
            self._builder(self.name, self.key)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        )
        self.issued = _write(directory, common, builder.sign(self.key, hashes.SHA256()), self.key)

    def _builder(self, subject: x509.Name, key: Any) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    def issue(self, common: str, dns: str | None = None) -> Issued:
        key, subject = _key_and_name(common)
        builder = self._builder(subject, key).add_extension(
            x509.BasicConstraints(ca=False, path_length=None), critical=True
        )
        if dns:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False
            )
        return _write(self.directory, common, builder.sign(self.key, hashes.SHA256()), key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("pki")
    ours, theirs = Authority(directory, "ca-ruta"), Authority(directory, "ca-otra")
    return {
        "ca": ours.issued.cert,
        "host": ours.issue("logs", "localhost"),
        "client": ours.issue("ruta-app"),
        "impostor": theirs.issue("impostor", "localhost"),
    }


# ---- a syslog receiver over TLS, as a log host runs one ----------------------------------


def read_frames(stream: bytes) -> list[bytes]:
    """RFC 5425 octet counting: `LEN SP MSG`, back to back; anything else fails."""
    frames, at = [], 0
    while at < len(stream):
        space = stream.index(b" ", at)
        length = int(stream[at:space].decode("ascii"))
        assert str(length).encode() == stream[at:space], "a length with leading zeros"
        frames.append(stream[space + 1 : space + 1 + length])
        assert len(frames[-1]) == length, "a frame cut short"
        at = space + 1 + length
    return frames


@dataclass
class Receiver:
    port: int
    connections: list[bytes] = field(default_factory=list)
    client_names: list[str | None] = field(default_factory=list)
    # Connections (counted from 0) that read a little, then end with a reset: a crash.
    crash_on: set[int] = field(default_factory=set)
    # Connections that read everything and close without a TLS close_notify.
    unconfirmed: set[int] = field(default_factory=set)
    accepted: int = 0

    @property
    def messages(self) -> list[dict[str, Any]]:
        parsed = []
        for stream in self.connections:
            for frame in read_frames(stream):
                match = RFC5424.match(frame.decode("ascii"))
                assert match, frame
                parsed.append({**match.groupdict(), "event": json.loads(match["msg"])})
        return parsed

    @property
    def ids(self) -> list[int]:
        return [message["event"]["id"] for message in self.messages]


def _client_name(tls: ssl.SSLSocket) -> str | None:
    peer = tls.getpeercert()
    if not peer:
        return None
    return dict(pair[0] for pair in peer["subject"])["commonName"]


def _crash(tls: ssl.SSLSocket) -> None:
    """Read a little, then die: the kernel answers the rest with a reset."""
    tls.recv(100)
    tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _receive(receiver: Receiver, tls: ssl.SSLSocket, confirm: bool) -> None:
    chunks = []
    while data := tls.recv(65536):
        chunks.append(data)
    receiver.client_names.append(_client_name(tls))
    receiver.connections.append(b"".join(chunks))
    if confirm:
        tls.unwrap()


def _handler(receiver: Receiver, context: ssl.SSLContext) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            number, receiver.accepted = receiver.accepted, receiver.accepted + 1
            try:
                with context.wrap_socket(self.request, server_side=True) as tls:
                    if number in receiver.crash_on:
                        _crash(tls)
                    else:
                        _receive(receiver, tls, number not in receiver.unconfirmed)
            except OSError:
                pass  # a handshake the client broke off, or a client gone: nothing kept

    return Handler


def server_context(issued: Issued, client_ca: Path | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(issued.cert, issued.key)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    return context


@contextlib.contextmanager
def receiving(context: ssl.SSLContext, **faults: set[int]) -> Iterator[Receiver]:
    server = socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler)
    receiver = Receiver(server.server_address[1], **faults)
    server.RequestHandlerClass = _handler(receiver, context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---- the application side ----------------------------------------------------------------


def point_at(app: Flask, url: str, pki: dict[str, Any], **extra: Any) -> None:
    app.config.update(RUTA_AUDIT_SHIP_URL=url, RUTA_AUDIT_SHIP_CA=pki["ca"], **extra)


def tls_url(port: int) -> str:
    return f"syslog+tls://localhost:{port}"


def ship(app: Flask, *args: str):
    return app.test_cli_runner().invoke(args=["audit", "ship", *args])


def write_events(app: Flask, how_many: int) -> None:
    with app.app_context():
        key = app.extensions["ruta.keyring"].audit_key
        for n in range(how_many):
            actor = Actor(n + 1, f"usuaria{n}", "PNC-SON", "pnc_agent", "10.0.0.7")
            record_event(db.session, key, actor, "case_search", detail=f"results={n}")
        db.session.commit()


def chain_ids(app: Flask) -> list[int]:
    """Every event, sealed, in the chain's order: what the log host must end up with."""
    with app.app_context():
        seal(db.session, app.extensions["ruta.keyring"].audit_key, wait=True)
        stmt = select(AuditLink.event_id).order_by(AuditLink.seq)
        return list(db.session.execute(stmt).scalars())


def ship_events(app: Flask) -> list[AuditEvent]:
    with app.app_context():
        stmt = select(AuditEvent).where(AuditEvent.object_type == "audit_log")
        events = list(db.session.execute(stmt).scalars())
        db.session.expunge_all()
        return events


def state_of(app: Flask) -> Path:
    return Path(app.config["RUTA_AUDIT_ANCHOR_DIR"]) / "ship-state.json"


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


# ---- syslog over TLS -----------------------------------------------------------------------


def test_every_event_arrives_once_in_order_as_rfc5424_frames(app, pki):
    write_events(app, 7)
    with receiving(server_context(pki["host"])) as receiver:
        point_at(app, tls_url(receiver.port), pki)
        result = ship(app, "--batch", "3")

    assert result.exit_code == 0, result.output
    expected = chain_ids(app)[:7]
    assert receiver.ids == expected == sorted(expected)
    assert len(receiver.connections) == 3  # one connection per batch of 3
    assert "shipped 3/7 events" in result.stderr and "shipped 7/7 events" in result.stderr
    assert f"shipped 7 events (last event {expected[-1]})" in result.stdout
    for message in receiver.messages:
        assert int(message["pri"]) == LOCAL0_INFO
        assert (message["app"], message["msgid"]) == ("ruta", "audit")
        sent_at = datetime.datetime.fromisoformat(message["time"])
        assert sent_at.isoformat(timespec="microseconds") == message["event"]["at"]
        assert set(message["event"]) == {
            "id", "at", "user_id", "institution", "action", "object_type", "object_id",
            "detail", "hmac", "seq", "link",
        }  # fmt: skip


def test_shipped_event_carries_the_stored_columns_and_its_link(app, pki):
    write_events(app, 1)
    with receiving(server_context(pki["host"])) as receiver:
        point_at(app, tls_url(receiver.port), pki)
        assert ship(app).exit_code == 0
    (event,) = [message["event"] for message in receiver.messages]
    with app.app_context():
        stored = db.session.get(AuditEvent, event["id"])
        link = db.session.execute(
            select(AuditLink).where(AuditLink.event_id == event["id"])
        ).scalar_one()
        assert (event["user_id"], event["institution"], event["action"]) == (
            1,
            "PNC-SON",
            "case_search",
        )
        assert (event["detail"], event["hmac"]) == ("results=0", stored.hmac)
        assert (event["seq"], event["link"]) == (link.seq, link.hmac)
        assert "usuaria0" not in json.dumps(event) and "10.0.0.7" not in json.dumps(event)


def test_second_run_sends_only_new_events_and_the_runs_come_to_rest(app, pki):
    write_events(app, 3)
    with receiving(server_context(pki["host"])) as receiver:
        point_at(app, tls_url(receiver.port), pki)
        assert ship(app).exit_code == 0
        first = list(receiver.ids)
        write_events(app, 2)
        assert ship(app).exit_code == 0
        after_second = list(receiver.ids)
        quiet = [ship(app), ship(app)]

    assert first == [1, 2, 3]
    # The first run's own event (4) goes with the new ones, each once.
    assert after_second == [1, 2, 3, 4, 5, 6]
    assert [event.detail for event in ship_events(app)] == [
        "shipped=3 last=3",
        "shipped=3 last=6",
    ]
    # The third run sends the second run's event and writes none: it shipped only that.
    assert receiver.ids == [1, 2, 3, 4, 5, 6, 7]
    assert [result.exit_code for result in quiet] == [0, 0]
    assert "shipped 0 events" in quiet[1].stdout
    assert len(ship_events(app)) == 2


def test_ship_event_is_an_export_of_the_log_by_the_operator(app, pki):
    write_events(app, 2)
    with receiving(server_context(pki["host"])) as receiver:
        point_at(app, tls_url(receiver.port), pki)
        assert ship(app).exit_code == 0
    (event,) = ship_events(app)
    assert (event.action, event.username, event.detail) == ("export", "cli", "shipped=2 last=2")


def test_log_host_with_a_certificate_of_another_ca_gets_nothing_and_nothing_moves(app, pki):
    write_events(app, 3)
    with receiving(server_context(pki["impostor"])) as receiver:
        point_at(app, tls_url(receiver.port), pki)
        result = ship(app)

    error = one_line_error(result)
    assert "does not verify" in error and "certificate" in error
    assert receiver.connections == []
    assert not state_of(app).exists()
    assert ship_events(app) == []


def test_log_host_whose_name_is_not_in_its_certificate_is_refused(app, pki):
    write_events(app, 1)
    with receiving(server_context(pki["host"])) as receiver:
        point_at(app, f"syslog+tls://127.0.0.1:{receiver.port}", pki)
        result = ship(app)
    assert "does not verify" in one_line_error(result)
    assert receiver.connections == [] and not state_of(app).exists()


def test_log_host_down_fails_in_one_line_and_marks_nothing_shipped(app, pki):
    write_events(app, 3)
    point_at(app, tls_url(free_port()), pki)

    result = ship(app)

    assert "cannot ship to localhost" in one_line_error(result)
    assert not state_of(app).exists()
    assert ship_events(app) == []


def test_interrupted_run_resends_from_the_last_accepted_batch_and_skips_nothing(app, pki):
    write_events(app, 6)
    with receiving(server_context(pki["host"]), crash_on={1}) as receiver:
        point_at(app, tls_url(receiver.port), pki)
        broken = ship(app, "--batch", "2")
        state_after_crash = json.loads(state_of(app).read_text())
        again = ship(app, "--batch", "2")

    assert "cannot ship to localhost" in one_line_error(broken)
    assert state_after_crash[tls_url(receiver.port)]["last_id"] == 2
    assert again.exit_code == 0, again.output
    # Batch 1 arrived once; batch 2 was never acknowledged and comes again in full.
    assert receiver.ids == [1, 2, 3, 4, 5, 6, 7]  # 7: the broken run's event, for batch 1
    assert ship_events(app)[0].detail == "shipped=2 last=2"


def test_receiver_that_closes_without_close_notify_has_not_confirmed_the_batch(app, pki):
    write_events(app, 2)
    with receiving(server_context(pki["host"]), unconfirmed={0}) as receiver:
        point_at(app, tls_url(receiver.port), pki)
        unconfirmed = ship(app)
        state_after = state_of(app).exists()
        confirmed = ship(app)

    assert "without confirming the batch" in one_line_error(unconfirmed)
    assert state_after is False
    assert confirmed.exit_code == 0, confirmed.output
    # The first copy came, unconfirmed; the log host keeps the first line of each id.
    assert receiver.ids == [1, 2, 1, 2]


def test_client_certificate_is_presented_when_configured(app, pki):
    write_events(app, 1)
    context = server_context(pki["host"], client_ca=pki["ca"])
    with receiving(context) as receiver:
        point_at(app, tls_url(receiver.port), pki)
        without = ship(app)
        point_at(
            app,
            tls_url(receiver.port),
            pki,
            RUTA_AUDIT_SHIP_CERT=pki["client"].cert,
            RUTA_AUDIT_SHIP_KEY=pki["client"].key,
        )
        with_cert = ship(app)

    assert f"localhost:{receiver.port}" in one_line_error(without)
    assert with_cert.exit_code == 0, with_cert.output
    assert receiver.client_names == ["ruta-app"] and receiver.ids == [1]


def test_facility_authpriv_when_asked(app, pki):
    write_events(app, 1)
    with receiving(server_context(pki["host"])) as receiver:
        point_at(app, tls_url(receiver.port), pki, RUTA_AUDIT_SHIP_FACILITY="authpriv")
        assert ship(app).exit_code == 0
    assert [int(message["pri"]) for message in receiver.messages] == [10 * 8 + 6]


# ---- settings ------------------------------------------------------------------------------


def test_ship_without_a_url_or_with_another_scheme_fails_in_one_line(app, pki):
    write_events(app, 1)
    assert "RUTA_AUDIT_SHIP_URL is not set" in one_line_error(ship(app))
    point_at(app, "tcp://logs.example.sv:514", pki)  # plain TCP syslog: never
    assert "expected syslog+tls://" in one_line_error(ship(app))
    point_at(app, tls_url(6514), pki, RUTA_AUDIT_SHIP_CERT=pki["client"].cert)
    assert "RUTA_AUDIT_SHIP_KEY" in one_line_error(ship(app))


def test_ship_settings_come_from_the_environment(tmp_path):
    env = {
        "RUTA_SECRET_KEY": "x",
        "RUTA_AUDIT_SHIP_URL": "syslog+tls://logs.example.sv:6514",
        "RUTA_AUDIT_SHIP_CA": "/etc/ruta/tls/logs-ca.pem",
    }
    config = Settings.from_env(env).to_flask()
    assert config["RUTA_AUDIT_SHIP_URL"] == "syslog+tls://logs.example.sv:6514"
    assert config["RUTA_AUDIT_SHIP_CA"] == Path("/etc/ruta/tls/logs-ca.pem")
    assert config["RUTA_AUDIT_SHIP_FACILITY"] == "local0"
    with pytest.raises(ConfigError, match="RUTA_AUDIT_SHIP_FACILITY"):
        Settings.from_env({**env, "RUTA_AUDIT_SHIP_FACILITY": "kern"})


# ---- a second disk -------------------------------------------------------------------------


def test_file_target_appends_one_json_line_per_event_privately(app, pki, tmp_path):
    copy = tmp_path / "archivo" / "ruta-audit.jsonl"
    write_events(app, 3)
    point_at(app, f"file://{copy}", pki)

    assert ship(app, "--batch", "2").exit_code == 0
    write_events(app, 1)
    assert ship(app).exit_code == 0

    lines = [json.loads(line) for line in copy.read_text().splitlines()]
    # 4: the first run's own event; the second run's (6) waits for the next run.
    assert [line["id"] for line in lines] == chain_ids(app)[:5] == [1, 2, 3, 4, 5]
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600


# ---- nothing of her leaves with the log ---------------------------------------------------


def test_shipped_lines_hold_nothing_of_the_survivor(app, client, make_person, pki, tmp_path):
    pnc = make_person("pnc_agent", "PNC-SON")
    person, story = survivor(), incident()
    opened = client.post("/api/v1/cases", json=intake(), headers=pnc.headers)
    assert opened.status_code == 201, opened.get_json()
    case_id = opened.get_json()["id"]
    assert client.get(f"/api/v1/cases/{case_id}", headers=pnc.headers).status_code == 200
    copy = tmp_path / "copy.jsonl"
    with receiving(server_context(pki["host"])) as receiver:
        point_at(app, tls_url(receiver.port), pki)
        assert ship(app).exit_code == 0
        point_at(app, f"file://{copy}", pki)
        assert ship(app).exit_code == 0

    shipped = (b"".join(receiver.connections) + copy.read_bytes()).decode().lower()
    secrets = {
        "given names": person["given_names"],
        "family names": person["family_names"],
        "DUI": person["dui"],
        "DUI digits": person["dui"].replace("-", ""),
        "phone": person["phone"],
        "phone digits": person["phone"].replace("-", ""),
        "address": person["address"],
        "birth date": person["birth_date"],
        "narrative": story["narrative"][:20],
    }
    assert {"case_create", "case_view"} <= {m["event"]["action"] for m in receiver.messages}
    assert [label for label, value in secrets.items() if value.lower() in shipped] == []


# ---- comparing a copy with the database ---------------------------------------------------


@pytest.fixture
def unprotected(app: Flask) -> Iterator[None]:
    """The database owner switches the append-only triggers off, as the owner may."""

    def run(sql: str) -> None:
        with app.app_context():
            db.session.execute(text(sql))
            db.session.commit()

    for table in ("audit_events", "audit_links"):
        if USING_PG:
            run(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
        else:
            run(f"DROP TRIGGER {table}_no_update")
            run(f"DROP TRIGGER {table}_no_delete")
    yield
    if USING_PG:  # the schema outlives this test
        for table in ("audit_events", "audit_links"):
            run(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")


def compare(app: Flask, path: Path):
    return app.test_cli_runner().invoke(args=["audit", "compare", str(path)])


def shipped_copy(app: Flask, pki: dict[str, Any], path: Path, events: int) -> None:
    write_events(app, events)
    point_at(app, f"file://{path}", pki)
    assert ship(app).exit_code == 0


def test_compare_finds_a_copy_that_matches(app, pki, tmp_path):
    copy = tmp_path / "copy.jsonl"
    shipped_copy(app, pki, copy, 4)
    result = compare(app, copy)
    assert result.exit_code == 0, result.output
    assert "ok 4 events compared: 0 missing, 0 different" in result.stdout


def test_compare_names_events_deleted_or_edited_after_shipping(app, pki, tmp_path, unprotected):
    copy = tmp_path / "copy.jsonl"
    shipped_copy(app, pki, copy, 5)
    with app.app_context():
        db.session.execute(text("DELETE FROM audit_events WHERE id = 2"))
        db.session.execute(text("UPDATE audit_events SET detail = 'results=9' WHERE id = 4"))
        db.session.commit()

    result = compare(app, copy)

    assert result.exit_code == 1
    assert "missing: event 2" in result.stdout
    assert "different: event 4 (detail)" in result.stdout
    assert "5 events compared: 1 missing, 1 different" in result.stderr


def test_compare_reads_syslog_lines_and_keeps_the_first_of_a_resent_event(app, pki, tmp_path):
    copy = tmp_path / "copy.jsonl"
    shipped_copy(app, pki, copy, 2)
    lines = copy.read_text().splitlines()
    syslog = tmp_path / "ruta-audit.log"
    syslog.write_text(
        "".join(f"2026-12-02T01:00:00+00:00 app01 ruta[7]: {line}\n" for line in lines)
        + lines[0]
        + "\nnot an event\n"
    )
    result = compare(app, syslog)
    assert "2 events compared: 0 missing, 0 different" in result.stderr
    assert "line 4: not a shipped audit event" in result.stderr and result.exit_code == 1


def test_a_chain_rolled_back_below_what_was_shipped_is_not_shipped_on(
    app, pki, tmp_path, unprotected
):
    copy = tmp_path / "copy.jsonl"
    shipped_copy(app, pki, copy, 3)
    with app.app_context():
        db.session.execute(text("DELETE FROM audit_links WHERE seq = 3"))
        db.session.commit()
    write_events(app, 1)

    result = ship(app)

    assert "no longer holds event 3" in one_line_error(result)
    assert [json.loads(line)["id"] for line in copy.read_text().splitlines()] == [1, 2, 3]


def test_an_event_altered_before_its_seal_stops_the_shipping_there_loudly(
    app, pki, tmp_path, unprotected
):
    copy = tmp_path / "copy.jsonl"
    write_events(app, 2)
    chain_ids(app)  # sealed
    write_events(app, 2)
    with app.app_context():
        db.session.execute(text("UPDATE audit_events SET detail = 'results=9' WHERE id = 3"))
        db.session.commit()
    point_at(app, f"file://{copy}", pki)

    result = ship(app)

    assert "sealing stopped: event 3 was altered" in one_line_error(result)
    assert [json.loads(line)["id"] for line in copy.read_text().splitlines()] == [1, 2]
