"""Shipping the audit events to a logically separate log host (docs/audit.md).

Threat: the events live in the database whose administrators they watch. A copy on a
host those administrators do not control keeps what was shipped out of their reach:
an event deleted or edited afterwards shows when the copy is compared (compare.py).

The events go in the chain's order (the links' `seq`), never by id alone: on PostgreSQL
a transaction can commit event 100 after event 101 was linked, and a shipper that
remembered "101" would skip 100 for ever. Links only grow, one sealer at a time, so
"everything up to link N" is a place no event can appear behind. The run seals first,
so that is every event committed before it started.

Targets: RFC 5425 syslog over TLS (`syslog+tls://host:6514`, the server's certificate
verified, TLS 1.2 or later), or `file:///path` (a second disk or an NFS mount). Where
the run got to is kept beside the anchors and moved only after the receiver took the
batch, so an interrupted run sends some events again and never skips one: receivers
keep the first line of each event id.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

from sqlalchemy import Table, func, select

from app.audit.models import AuditEvent, AuditLink
from app.audit.seal import SealRefused, seal
from app.audit.service import GENESIS_HMAC, Actor, record_event
from app.audit.syslog_tls import (
    FACILITIES,
    SYSLOG_PORT,
    ShipError,
    SyslogTarget,
    TlsFiles,
    tls_context,
)
from app.core.db import DbSession
from app.core.time import utcnow

# The run's own event: an export of the log. (An `audit_ship` action needs a line in
# service.ACTIONS; until then the event is told apart by its object type.)
SHIP_ACTION = "export"
SHIP_OBJECT = "audit_log"
STATE_FILE = "ship-state.json"

_EVENTS = cast(Table, AuditEvent.__table__)


# ---- what is sent ------------------------------------------------------------------------


def shipped_fields(row: Any) -> dict[str, Any]:
    """One event as it leaves the host: ids, codes and digests, never the username, ip,
    free-text reason or case (the HMAC still binds every column of the event)."""
    return {
        "id": row.id,
        "at": row.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "user_id": row.user_id,
        "institution": row.institution,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "detail": row.detail,
        "hmac": row.hmac,
        "seq": row.seq,
        "link": row.link,
    }


def event_line(fields: dict[str, Any]) -> str:
    """ASCII only (`ensure_ascii`): no newline or control character can split a line."""
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=True)


@dataclass(frozen=True)
class Batch:
    lines: list[str]
    times: list[datetime]
    last_seq: int
    last_id: int
    last_link: str
    ours: int  # events of earlier ship runs among them


def _rows_after(session: DbSession, seq: int, size: int) -> list[Any]:
    stmt = (
        select(AuditLink.seq, AuditLink.event_id, AuditLink.hmac.label("link"), _EVENTS)
        .outerjoin(_EVENTS, _EVENTS.c.id == AuditLink.event_id)
        .where(AuditLink.seq > seq)
        .order_by(AuditLink.seq)
        .limit(size)
    )
    return list(session.execute(stmt).all())


def is_ship_event(row: Any) -> bool:
    return bool(row.action == SHIP_ACTION and row.object_type == SHIP_OBJECT)


def next_batch(session: DbSession, seq: int, size: int) -> Batch | None:
    rows = _rows_after(session, seq, size)
    if not rows:
        return None
    missing = next((row for row in rows if row.id is None), None)
    if missing is not None:
        raise ShipError(
            f"event {missing.event_id} (link {missing.seq}) is missing from the database; "
            "run `audit verify`"
        )
    last = rows[-1]
    return Batch(
        lines=[event_line(shipped_fields(row)) for row in rows],
        times=[row.at for row in rows],
        last_seq=last.seq,
        last_id=last.id,
        last_link=last.link,
        ours=sum(1 for row in rows if is_ship_event(row)),
    )


# ---- where it goes -----------------------------------------------------------------------


class Target(Protocol):
    @property
    def name(self) -> str: ...

    def send(self, lines: list[str], times: list[datetime]) -> None: ...


@dataclass(frozen=True)
class FileTarget:
    """Append-only JSON lines on a disk the database host does not control."""

    path: Path
    name: str

    def send(self, lines: list[str], times: list[datetime]) -> None:
        data = "".join(line + "\n" for line in lines).encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)  # accepted means on the disk
            finally:
                os.close(fd)
        except OSError as error:
            raise ShipError(f"cannot write {self.path}: {error.strerror or error}") from None


def target_for(url: str, files: TlsFiles, facility: str = "local0") -> Target:
    """`syslog+tls://host[:port]` or `file:///absolute/path`; anything else is refused."""
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost") and parts.path:
        return FileTarget(Path(parts.path), url)
    if parts.scheme == "syslog+tls" and parts.hostname:
        if facility not in FACILITIES:
            raise ShipError(f"unknown syslog facility {facility!r} (authpriv or local0)")
        try:
            port = parts.port or SYSLOG_PORT
        except ValueError:
            raise ShipError(f"bad port in RUTA_AUDIT_SHIP_URL {url!r}") from None
        return SyslogTarget(parts.hostname, port, tls_context(files), FACILITIES[facility], url)
    raise ShipError(f"RUTA_AUDIT_SHIP_URL {url!r}: expected syslog+tls://host:6514 or file:///path")


# ---- where the run got to ----------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    seq: int = 0
    last_id: int = 0
    link: str = GENESIS_HMAC


def read_place(path: Path, target: str) -> Place:
    """Where shipping to `target` got to (a new target starts from the first event)."""
    try:
        data = json.loads(path.read_text())[target]
        return Place(int(data["seq"]), int(data["last_id"]), str(data["link"]))
    except (FileNotFoundError, KeyError):
        return Place()
    except (ValueError, TypeError, OSError) as error:
        raise ShipError(f"cannot read {path}: {error}") from None


def write_place(path: Path, target: str, place: Place) -> None:
    """Replace the file in one rename, after it reached the disk. A failure leaves the
    old place: the next run sends the batch again (the receiver keeps one of each)."""
    try:
        known = json.loads(path.read_text()) if path.exists() else {}
        known[target] = {
            "seq": place.seq,
            "last_id": place.last_id,
            "link": place.link,
            "at": utcnow().isoformat(),
        }
        _replace_durably(path, json.dumps(known, indent=1).encode())
    except (ValueError, TypeError, OSError) as error:
        raise ShipError(f"cannot record the place shipped in {path}: {error}") from None


def _replace_durably(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def check_continues(session: DbSession, place: Place) -> None:
    """The chain must still hold the last event shipped, at its place: a restored or
    rewritten chain is not shipped on top of what the log host already has."""
    if place.seq == 0:
        return
    link = session.get(AuditLink, place.seq)
    if link is None or link.event_id != place.last_id or link.hmac != place.link:
        raise ShipError(
            f"the audit chain no longer holds event {place.last_id} at link {place.seq}, "
            "the last one shipped; run `audit verify` and `audit compare`"
        )


# ---- the run -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ShipReport:
    sent: int
    last_id: int
    failure: str | None = None  # why the run stopped early (the events before it went)


def _seal_first(session: DbSession, audit_key: bytes) -> str | None:
    try:
        result = seal(session, audit_key, wait=True)
    except SealRefused as refused:
        return str(refused)
    return f"sealing stopped: {result.problem}; run `audit verify`" if result.problem else None


def links_after(session: DbSession, seq: int) -> int:
    stmt = select(func.count(AuditLink.seq)).where(AuditLink.seq > seq)
    return session.execute(stmt).scalar_one()


def _start(session: DbSession, state: Path, target: Target) -> tuple[Place, int]:
    place = read_place(state, target.name)
    check_continues(session, place)
    return place, links_after(session, place.seq)


def ship(
    session: DbSession,
    audit_key: bytes,
    actor: Actor,
    target: Target,
    state: Path,
    batch: int,
    progress: Callable[[int, int], None] = lambda sent, total: None,
) -> ShipReport:
    """Seal, then send every linked event not shipped to `target` yet, `batch` at a time.

    Commits only the sealer's links; the run's own event is added to the session for the
    caller to commit. That event is shipped by the next run, which writes none of its own
    when it sent nothing else: the runs do not feed each other for ever.
    """
    failure = _seal_first(session, audit_key)
    place, sent, ours = Place(), 0, 0
    try:
        place, total = _start(session, state, target)
        while (found := next_batch(session, place.seq, batch)) is not None:
            session.rollback()  # no transaction held open while the network is slow
            target.send(found.lines, found.times)
            place = Place(found.last_seq, found.last_id, found.last_link)
            write_place(state, target.name, place)
            sent, ours = sent + len(found.lines), ours + found.ours
            progress(sent, total)
    except ShipError as error:
        failure = str(error)
    session.rollback()
    if sent > ours:
        detail = f"shipped={sent} last={place.last_id}"
        record_event(session, audit_key, actor, SHIP_ACTION, object_type=SHIP_OBJECT, detail=detail)
    return ShipReport(sent, place.last_id, failure)
