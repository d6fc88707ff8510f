"""Anchors: the sealed head of the audit chain, copied to files outside the database.

Threat: someone with the database owner's rights (a DBA, or whoever restores an old
dump) saves the `audit_head` row, deletes every later event and link and puts the row
back. The head is still sealed (the sealer sealed it), so the chain alone verifies. An anchor
written earlier, kept where the database cannot reach it, remembers that the chain went
further, and `audit verify` fails naming the first missing event.

One JSON line per anchor — the sealed head: links counted, the last linked event's id,
the last link's HMAC — appended to one file per UTC day (`anchors-YYYY-MM-DD.jsonl`),
each line sealed with the chain's audit key of that moment, which it names (`key`; an
anchor without it was sealed with the first key). After a request's commit the application seals
(seal.py) once the last seal is older than its interval, and anchors, sealing first,
when the newest anchor is older than the anchor interval; several workers may both write one
(harmless), none waits for another. It never anchors a chain that no longer contains the
newest anchor: a rolled-back chain must not be laundered by a fresh anchor of itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from app.audit.models import AuditEvent, AuditHead, AuditLink
from app.audit.seal import SealRefused, seal
from app.audit.service import (
    AUDIT_WRITTEN,
    GENESIS_HMAC,
    HEAD_ID,
    AuditKeysLike,
    ChainKey,
    head_is_sealed,
    keys_of,
)
from app.core.db import DbSession
from app.core.time import utcnow

FILE_PREFIX = "anchors-"
FILE_SUFFIX = ".jsonl"
RETRY_SECONDS = 60  # after a failed or refused anchor: an alarm, not one per request

log = logging.getLogger("ruta.audit")


class AnchorError(RuntimeError):
    """No anchor can be written or trusted: the message says why."""


@dataclass(frozen=True)
class Anchor:
    count: int
    last_id: int
    last_hmac: str
    at: str
    mac: str
    key: str | None = None  # the audit key that sealed it; None: the first one

    def line(self) -> str:
        fields = {name: value for name, value in asdict(self).items() if value is not None}
        return json.dumps(fields, separators=(",", ":")) + "\n"


@dataclass(frozen=True)
class AnchorCheck:
    """How the chain compares with the newest anchors; `anchor` is the furthest one."""

    ok: bool
    anchor: Anchor | None = None
    broken_event_id: int | None = None
    problem: str | None = None


def anchor_mac(audit_key: bytes, count: int, last_id: int, last_hmac: str, at: str) -> str:
    content = f"anchor|{count}|{last_id}|{last_hmac}|{at}".encode()
    return hmac.new(audit_key, content, hashlib.sha256).hexdigest()


def seal_anchor(
    audit_key: bytes,
    count: int,
    last_id: int,
    last_hmac: str,
    at: str,
    key_id: str | None = None,
) -> Anchor:
    mac = anchor_mac(audit_key, count, last_id, last_hmac, at)
    return Anchor(count, last_id, last_hmac, at, mac, key_id)


def parse_anchor(text: str, audit_keys: AuditKeysLike) -> Anchor | None:
    """The anchor of one line, or None when the line is damaged or was not sealed by us."""
    try:
        data = json.loads(text)
        anchor = Anchor(
            count=int(data["count"]),
            last_id=int(data["last_id"]),
            last_hmac=str(data["last_hmac"]),
            at=str(data["at"]),
            mac=str(data["mac"]),
            key=str(data["key"]) if data.get("key") is not None else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    key = keys_of(audit_keys).get(anchor.key)
    if key is None:
        return None
    expected = anchor_mac(key, anchor.count, anchor.last_id, anchor.last_hmac, anchor.at)
    return anchor if hmac.compare_digest(expected, anchor.mac) else None


# ---- the files ----------------------------------------------------------------------------


def anchor_file(directory: Path, at: datetime) -> Path:
    return directory / f"{FILE_PREFIX}{at.date().isoformat()}{FILE_SUFFIX}"


def newest_file(directory: Path) -> Path | None:
    """The file of the latest day that holds anything (the names sort by date)."""
    files = sorted(directory.glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"), reverse=True)
    return next((path for path in files if path.stat().st_size > 0), None)


def append_anchor(directory: Path, anchor: Anchor, at: datetime) -> Path:
    """Append one line and wait for the disk: an anchor lost in a crash protects nothing."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = anchor_file(directory, at)
    is_new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, anchor.line().encode())  # one write: lines of two workers never mix
        os.fsync(fd)
    finally:
        os.close(fd)
    if is_new:
        _fsync_directory(directory)  # the new file's name must survive a crash too
    return path


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def newest_anchors(directory: Path, audit_key: AuditKeysLike) -> list[Anchor]:
    """Every anchor of the newest file; a line that is not a sealed anchor is an error."""
    path = newest_file(directory) if directory.is_dir() else None
    if path is None:
        return []
    anchors = []
    for number, text in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not text.strip():
            continue
        anchor = parse_anchor(text, audit_key)
        if anchor is None:
            raise AnchorError(f"{path} line {number} is not a valid anchor (forged or damaged)")
        anchors.append(anchor)
    return anchors


def furthest(anchors: Iterable[Anchor]) -> Anchor | None:
    return max(anchors, key=lambda anchor: (anchor.count, anchor.at), default=None)


# ---- comparing the chain with its anchors -----------------------------------------------


def _links_at(session: DbSession, places: set[int]) -> dict[int, tuple[int, str]]:
    stmt = select(AuditLink.seq, AuditLink.event_id, AuditLink.hmac).where(
        AuditLink.seq.in_(places)
    )
    return {seq: (event_id, mac) for seq, event_id, mac in session.execute(stmt)}


def _old_chain_hmacs(session: DbSession, ids: set[int]) -> dict[int, str]:
    """Anchors written before the sealer (migration 0018) hold the event's own HMAC."""
    stmt = select(AuditEvent.id, AuditEvent.hmac).where(
        AuditEvent.id.in_(ids), AuditEvent.prev_hmac.is_not(None)
    )
    return {event_id: mac for event_id, mac in session.execute(stmt)}


def _lies_on_chain(
    anchor: Anchor, links: dict[int, tuple[int, str]], old_hmacs: dict[int, str]
) -> bool:
    if anchor.count == 0:
        return hmac.compare_digest(anchor.last_hmac, GENESIS_HMAC)
    event_id, link_mac = links.get(anchor.count, (None, GENESIS_HMAC))
    if event_id != anchor.last_id:
        return False
    return hmac.compare_digest(link_mac, anchor.last_hmac) or hmac.compare_digest(
        old_hmacs.get(anchor.last_id, GENESIS_HMAC), anchor.last_hmac
    )


def compare_with_anchors(session: DbSession, events: int, anchors: list[Anchor]) -> AnchorCheck:
    """`events` is the number of links of a chain that verified; each anchor must lie on it."""
    on_chain = [a for a in anchors if 0 < a.count <= events]
    links = _links_at(session, {a.count for a in on_chain})
    old_hmacs = _old_chain_hmacs(session, {a.last_id for a in on_chain})
    for anchor in sorted(anchors, key=lambda each: each.count):
        if anchor.count > events:
            problem = f"missing: the anchor of {anchor.at} counted {anchor.count} events"
            return AnchorCheck(False, anchor, events + 1, problem)
        if not _lies_on_chain(anchor, links, old_hmacs):
            problem = f"differs from the anchor of {anchor.at}"
            return AnchorCheck(False, anchor, anchor.last_id, problem)
    return AnchorCheck(True, furthest(anchors))


def check_anchors(
    session: DbSession, audit_key: AuditKeysLike, directory: Path, events: int
) -> AnchorCheck:
    """What `audit verify` adds to the chain's own check."""
    try:
        anchors = newest_anchors(directory, audit_key)
    except (AnchorError, OSError) as error:
        return AnchorCheck(False, problem=str(error))
    return compare_with_anchors(session, events, anchors)


# ---- writing an anchor ---------------------------------------------------------------------


def _sealed_head(session: DbSession, audit_key: AuditKeysLike) -> tuple[int, int, str]:
    head = session.get(AuditHead, HEAD_ID)
    if not head_is_sealed(audit_key, head):
        raise AnchorError("the audit head is not sealed with the audit key; run `audit verify`")
    if head is None or head.count == 0:
        return 0, 0, GENESIS_HMAC
    return head.count, head.last_event_id, head.last_hmac


def _chain_key(session: DbSession, audit_key: AuditKeysLike) -> ChainKey:
    return ChainKey.of_head(keys_of(audit_key), session.get(AuditHead, HEAD_ID))


def write_anchor(
    session: DbSession, audit_key: AuditKeysLike, directory: Path
) -> tuple[Anchor, Path]:
    """Seal, then anchor the sealed head, unless the chain no longer holds the newest anchor."""
    try:
        seal(session, audit_key, wait=True)
    except SealRefused as refused:
        raise AnchorError(str(refused)) from None
    # The anchors first, the head after: an anchor another worker wrote meanwhile then
    # never looks further along than the head we read (no false alarm in that race).
    previous = newest_anchors(directory, audit_key)
    count, last_id, last_hmac = _sealed_head(session, audit_key)
    check = compare_with_anchors(session, count, previous)
    if not check.ok:
        raise AnchorError(
            f"the audit chain does not continue its newest anchor (event "
            f"{check.broken_event_id}: {check.problem}); run `audit verify`"
        )
    now = utcnow()
    chain = _chain_key(session, audit_key)
    if chain.key is None:
        raise AnchorError(f"the audit key {chain.key_id} is not in the key file")
    anchor = seal_anchor(chain.key, count, last_id, last_hmac, now.isoformat(), chain.stored_id)
    return anchor, append_anchor(directory, anchor, now)


class AutoAnchor:
    """After a request's commit that wrote audit events: seals once the last seal is
    older than `seal_interval`, and anchors once the newest anchor is older than
    `interval`.

    Most requests cost one comparison with this process's clock. A seal takes the
    sealer's lock without waiting (another worker sealing links these events too); an
    anchor looks at the directory first (another worker may have anchored meanwhile).
    """

    def __init__(self, directory: Path, interval: float, seal_interval: float = 1.0) -> None:
        self.directory = directory
        self.interval = interval
        self.seal_interval = seal_interval
        self.clock: Callable[[], float] = time.time  # replaceable, to test the interval
        self._next_look = 0.0
        self._next_seal = 0.0
        self._busy = threading.Lock()

    def after_commit(self, session: DbSession, audit_key: Callable[[], AuditKeysLike]) -> None:
        if not session.info.pop(AUDIT_WRITTEN, False):
            return
        now = self.clock()
        if now < self._next_seal and now < self._next_look:
            return
        if not self._busy.acquire(blocking=False):
            return  # another thread of this process is sealing or anchoring right now
        try:
            if now >= self._next_look:
                self._look_after(session, audit_key, self._anchor_unless_recent, "anchor")
            else:
                self._look_after(session, audit_key, self._seal, "seal")
        finally:
            self._busy.release()

    def _look_after(
        self,
        session: DbSession,
        audit_key: Callable[[], AuditKeysLike],
        task: Callable[[DbSession, Callable[[], AuditKeysLike]], None],
        name: str,
    ) -> None:
        try:
            task(session, audit_key)
        except Exception as error:  # the answer is committed: this must not become a 500
            session.rollback()
            # Our own reasons and file errors only: a database error's text may hold SQL.
            known = isinstance(error, AnchorError | SealRefused | OSError)
            reason = str(error) if known else ""
            log.error("audit %s not written: %s %s", name, type(error).__name__, reason)
            retry = self.clock() + min(self.interval, RETRY_SECONDS)
            self._next_seal = retry
            if name == "anchor":
                self._next_look = retry

    def _seal(self, session: DbSession, audit_key: Callable[[], AuditKeysLike]) -> None:
        seal(session, audit_key())
        self._next_seal = self.clock() + self.seal_interval

    def _anchor_unless_recent(
        self, session: DbSession, audit_key: Callable[[], AuditKeysLike]
    ) -> None:
        newest = newest_file(self.directory) if self.directory.is_dir() else None
        written_at = newest.stat().st_mtime if newest else 0.0
        if self.clock() - written_at < self.interval:
            self._next_look = written_at + self.interval
            self._seal(session, audit_key)
            return
        try:
            write_anchor(session, audit_key(), self.directory)
        finally:
            session.rollback()  # ends the read: on SQLite every transaction holds the lock
        self._next_look = self.clock() + self.interval
        self._next_seal = self.clock() + self.seal_interval
