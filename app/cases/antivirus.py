"""Uploads scanned by ClamAV's daemon (clamd) before anything of them is kept (ASVS 5.4.3).

Threat: a file handed in at the office can come from a phone or a computer the abuser
controls, and it is opened later on the network's office PCs. Sanitising rebuilds it,
but only after a parser has read the hostile bytes; clamd reads the bytes exactly as
they were sent and knows the exploits and the malware that are already named.

clamd's INSTREAM command (clamd(8)): `zINSTREAM\\0`, then the stream in chunks, each after
its length in 4 bytes big-endian, then a length of zero; the reply ends in NUL:
`stream: OK`, `stream: <signature> FOUND`, or `<what> ERROR`. Past its StreamMaxLength
clamd stops reading and answers `INSTREAM size limit exceeded. ERROR`: a file it did not
read to the end is refused, never passed. A daemon that cannot be reached, is too slow
or answers anything else is `ScannerUnavailable` (503): nothing is stored unscanned.
"""

from __future__ import annotations

import errno
import re
import socket
import struct
import time
from dataclasses import dataclass

from app.core.errors import Unavailable

# A Unix socket's path, or (host, port) of clamd's TCPSocket.
Address = str | tuple[str, int]

COMMAND = b"zINSTREAM\0"
END_OF_STREAM = struct.pack("!I", 0)
CHUNK_BYTES = 64 * 1024
# The whole exchange: a 20 MB PDF takes clamd a few seconds; a hung daemon must not
# hold a worker (and the person at the form) for longer than this.
TIMEOUT_SECONDS = 30.0
REPLY_MAX_BYTES = 4096
SIZE_LIMIT = "size_limit"
_CLEAN = "stream: OK"
_FOUND = re.compile(r"stream: (?P<name>.+) FOUND")
_SIZE_LIMIT_EXCEEDED = "size limit exceeded"
# A signature's name is clamd's text: only what such names are made of goes to the audit.
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._:+()-]")
NAME_MAX = 120


class ScannerUnavailable(Unavailable):
    """clamd is down, too slow, or said something that is not a verdict."""

    def __init__(self, cause: str) -> None:
        super().__init__("antivirus unavailable", {"cause": f"antivirus:{cause}"})


@dataclass(frozen=True)
class Verdict:
    """What clamd said of a stream: `refused` is the signature's name, or SIZE_LIMIT;
    None when clean."""

    refused: str | None = None


@dataclass(frozen=True)
class Clamd:
    """A clamd to ask, at a Unix socket's path or a (host, port)."""

    address: Address
    timeout: float = TIMEOUT_SECONDS
    chunk_bytes: int = CHUNK_BYTES

    def scan(self, data: bytes) -> Verdict:
        """The verdict on `data`, or ScannerUnavailable."""
        deadline = time.monotonic() + self.timeout
        try:
            with self._connect() as conn:
                _send_stream(conn, data, self.chunk_bytes, deadline)
                reply = _read_reply(conn, deadline)
        except TimeoutError as exc:
            raise ScannerUnavailable("timeout") from exc
        except OSError as exc:  # no socket, refused, reset before a reply
            raise ScannerUnavailable(errno.errorcode.get(exc.errno or 0, "oserror")) from exc
        return verdict_of(reply)

    def _connect(self) -> socket.socket:
        if isinstance(self.address, tuple):
            return socket.create_connection(self.address, timeout=self.timeout)
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.settimeout(self.timeout)
            conn.connect(self.address)
        except BaseException:
            conn.close()
            raise
        return conn


def scanner_at(address: Address | None) -> Clamd | None:
    """The configured scanner (RUTA_CLAMD), or None when there is none."""
    return Clamd(address) if address else None


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("antivirus scan took too long")
    return left


def _send_stream(conn: socket.socket, data: bytes, chunk_bytes: int, deadline: float) -> None:
    """Command, chunks, end. clamd hangs up past StreamMaxLength, after saying so: its
    reply is still there to read, so a broken pipe ends the sending, not the scan."""
    try:
        conn.settimeout(_remaining(deadline))
        conn.sendall(COMMAND)
        for start in range(0, len(data), chunk_bytes):
            chunk = data[start : start + chunk_bytes]
            conn.settimeout(_remaining(deadline))
            conn.sendall(struct.pack("!I", len(chunk)) + chunk)
        conn.settimeout(_remaining(deadline))
        conn.sendall(END_OF_STREAM)
    except (BrokenPipeError, ConnectionResetError):
        return


def _read_reply(conn: socket.socket, deadline: float) -> str:
    reply = b""
    while not reply.endswith(b"\0") and len(reply) < REPLY_MAX_BYTES:
        conn.settimeout(_remaining(deadline))
        try:
            part = conn.recv(REPLY_MAX_BYTES)
        except ConnectionResetError:
            part = b""
        if not part:
            break
        reply += part
    if not reply:
        raise ScannerUnavailable("no_reply")
    return reply.rstrip(b"\0").decode("ascii", "replace").strip()


def verdict_of(reply: str) -> Verdict:
    """clamd's reply as a verdict; anything but OK, FOUND or the size limit is an outage."""
    if reply == _CLEAN:
        return Verdict()
    if found := _FOUND.fullmatch(reply):
        return Verdict(signature_name(found["name"]))
    if _SIZE_LIMIT_EXCEEDED in reply.lower():
        return Verdict(SIZE_LIMIT)
    raise ScannerUnavailable("clamd_error")


def signature_name(name: str) -> str:
    return _NAME_UNSAFE.sub("_", name)[:NAME_MAX] or "unknown"
