"""Syslog over TLS (RFC 5425) for `audit ship`: RFC 5424 messages in octet-counted
frames, the log host's certificate verified by CA and name, TLS 1.2 or later, and the
receiver's close_notify read before a batch counts as delivered."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SYSLOG_PORT = 6514  # RFC 5425
TIMEOUT_SECONDS = 15  # connecting, and each send or read: a dead host is not waited on
FACILITIES = {"authpriv": 10, "local0": 16}
SEVERITY_INFO = 6
APP_NAME = "ruta"
MSG_ID = "audit"


class ShipError(RuntimeError):
    """Nothing more can be shipped now; the message (one line) says why."""


def _rfc5424_hostname() -> str:
    name = socket.gethostname()[:255]
    return name if name and all(33 <= ord(c) <= 126 for c in name) else "-"


def syslog_message(line: str, at: datetime, facility: int, hostname: str) -> bytes:
    """RFC 5424: PRI, version, the event's time, host, app, process, message id, no
    structured data, then the JSON as the message."""
    stamp = at.astimezone(UTC).isoformat(timespec="microseconds")
    pri = facility * 8 + SEVERITY_INFO
    return f"<{pri}>1 {stamp} {hostname} {APP_NAME} {os.getpid()} {MSG_ID} - {line}".encode()


def octet_frame(message: bytes) -> bytes:
    """RFC 5425 (RFC 6587 octet counting): `LEN SP MSG`."""
    return str(len(message)).encode() + b" " + message


@dataclass(frozen=True)
class SyslogTarget:
    """A syslog receiver over TLS: one connection per batch, closed with close_notify."""

    host: str
    port: int
    context: ssl.SSLContext
    facility: int
    name: str

    def send(self, lines: list[str], times: list[datetime]) -> None:
        hostname = _rfc5424_hostname()
        payload = b"".join(
            octet_frame(syslog_message(line, at, self.facility, hostname))
            for line, at in zip(lines, times, strict=True)
        )
        try:
            self._deliver(payload)
        except ssl.SSLCertVerificationError as error:
            raise ShipError(
                f"the certificate of {self.host}:{self.port} does not verify "
                f"({error.verify_message}); nothing sent"
            ) from None
        except ssl.SSLEOFError:
            raise ShipError(
                f"{self.host}:{self.port} closed the connection without confirming the "
                "batch (no TLS close_notify); nothing marked shipped"
            ) from None
        except OSError as error:  # refused, unreachable, timed out, reset, TLS alerts
            reason = error.strerror or str(error) or type(error).__name__
            raise ShipError(f"cannot ship to {self.host}:{self.port}: {reason}") from None

    def _deliver(self, payload: bytes) -> None:
        raw = socket.create_connection((self.host, self.port), timeout=TIMEOUT_SECONDS)
        with raw:
            channel = _Channel(raw, self.context, self.host)
            channel.run(channel.tls.do_handshake)
            channel.send(payload)
            channel.close_confirmed()


class _Channel:
    """TLS over memory buffers, so that we see each record the receiver sends.

    RFC 5425 has no acknowledgement: the receiver answering our close_notify with its
    own is the one sign that it read to the end. `SSLSocket.unwrap()` cannot be trusted
    for that (it may return without the peer's close_notify), and a bare EOF is no sign
    either (a TLS 1.3 server that refused our certificate after the handshake ends so).
    """

    def __init__(self, raw: socket.socket, context: ssl.SSLContext, host: str) -> None:
        self.raw, self.incoming, self.outgoing = raw, ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname=host)

    def _flush(self) -> None:
        if pending := self.outgoing.read():
            self.raw.sendall(pending)

    def _receive(self) -> None:
        data = self.raw.recv(65536)
        if not data:
            raise ssl.SSLEOFError("the receiver closed the connection")
        self.incoming.write(data)

    def run(self, step: Callable[[], object]) -> None:
        """Repeat a TLS step, moving bytes both ways, until it is done."""
        while True:
            try:
                step()
                self._flush()
                return
            except ssl.SSLWantReadError:
                self._flush()
                self._receive()

    def send(self, payload: bytes) -> None:
        view = memoryview(payload)
        while view:
            written = self.tls.write(view)
            self._flush()
            view = view[written:]

    def close_confirmed(self) -> None:
        """Send our close_notify, then read until the receiver's arrives."""
        with contextlib.suppress(ssl.SSLWantReadError):
            self.tls.unwrap()
        self._flush()
        while True:
            try:
                self.tls.read(65536)  # a receiver sends nothing: anything read is dropped
            except ssl.SSLZeroReturnError:
                return
            except ssl.SSLWantReadError:
                self._receive()


@dataclass(frozen=True)
class TlsFiles:
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None


def tls_context(files: TlsFiles) -> ssl.SSLContext:
    """Verify the log host by certificate and name, TLS 1.2 or later; present our own
    certificate when one is configured."""
    if (files.cert is None) != (files.key is None):
        raise ShipError("set both RUTA_AUDIT_SHIP_CERT and RUTA_AUDIT_SHIP_KEY, or neither")
    try:
        context = ssl.create_default_context(cafile=str(files.ca) if files.ca else None)
        if files.cert and files.key:
            context.load_cert_chain(files.cert, files.key)
    except (OSError, ssl.SSLError) as error:
        raise ShipError(f"cannot load the TLS files: {error.strerror or error}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
