"""Writing and verifying the audit log.

A request appends its event with one INSERT and its own HMAC (under the audit key, kept
apart from the KEK and the index key), touching no shared row. The sealer (seal.py)
then chains the committed events in order: each link's HMAC covers the event's id and
HMAC and the previous link. Editing, deleting or reordering a linked event breaks its
link; cutting links off the end no longer matches the sealed head. docs/audit.md has the
design and its threat model.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Protocol, cast

from sqlalchemy import Table, insert, select

from app.audit.models import AuditEvent, AuditHead, AuditLink
from app.core.db import DbSession
from app.core.time import utcnow

GENESIS_HMAC = "0" * 64
HEAD_ID = 1
# Set in `session.info` by every write: tells the request's end that an anchor may be due.
AUDIT_WRITTEN = "ruta.audit_written"
REASON_MAX = 500

ACTIONS = frozenset(
    {
        "login",
        "login_failed",
        "logout",
        "token_issued",
        "case_view",
        "case_join",
        "case_search",
        "case_list",
        "case_assign",
        "case_merge",
        "access_denied",
        "identity_conflict",
        "join_review",
        "referral_view",
        "case_create",
        "case_update",
        "referral_create",
        "referral_transition",
        "attachment_download",
        "attachment_refused",
        "break_glass",
        "export",
        "user_create",
        "user_update",
        "user_approve",
        "account_recovery",
        "read_limit",
        "write_limit",
        "institution_update",
        "legal_hold",
        "erasure_request",
        "record_purge",
    }
)


@dataclass(frozen=True)
class Actor:
    """Who acts, as the audit log records it. Built by the routes from the login."""

    user_id: int | None
    username: str | None
    institution: str | None
    role: str | None
    ip: str | None = None


class HasActor(Protocol):
    def actor(self) -> Actor: ...


def audit(
    session: DbSession, audit_key: bytes, caller: HasActor, action: str, **details: Any
) -> Recorded:
    """What services call: the event of `caller`'s action, in the same transaction."""
    return record_event(session, audit_key, caller.actor(), action, **details)


def audit_change(
    session: DbSession,
    audit_key: bytes,
    caller: HasActor,
    case_id: object,
    object_type: str,
    object_id: object,
    detail: str,
) -> Recorded:
    """A change to a case's record: the part (`object_type`, id) and a code-only detail."""
    return audit(
        session,
        audit_key,
        caller,
        "case_update",
        object_type=object_type,
        object_id=object_id,
        case_id=case_id,
        detail=detail,
    )


def _canonical(event: Any) -> bytes:
    content = {
        "at": event.at.isoformat(),
        "user_id": event.user_id,
        "username": event.username,
        "institution": event.institution,
        "role": event.role,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "case_id": str(event.case_id) if event.case_id else None,
        "ip": event.ip,
        "reason": event.reason,
        "detail": event.detail,
    }
    if event.prev_hmac is not None:  # written before the sealer: the old chained form
        content |= {"id": event.id, "prev": event.prev_hmac}
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode()


def event_hmac(audit_key: bytes, event: Any) -> str:
    """The event's own HMAC. Its place in the order is the link's to seal (seal.py)."""
    return hmac.new(audit_key, _canonical(event), hashlib.sha256).hexdigest()


def head_mac(audit_key: bytes, head: AuditHead) -> str:
    content = f"head|{head.last_event_id}|{head.last_hmac}|{head.count}|{head.floor}".encode()
    return hmac.new(audit_key, content, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Recorded:
    """What a writer gets back: the event's id and its HMAC."""

    id: int
    hmac: str


_EVENTS = cast(Table, AuditEvent.__table__)
# Built once: the values go in as parameters (building the statement costs more than
# running it).
_INSERT_EVENT = insert(_EVENTS).returning(_EVENTS.c.id)


def record_event(
    session: DbSession,
    audit_key: bytes,
    actor: Actor | None,
    action: str,
    *,
    object_type: str | None = None,
    object_id: object | None = None,
    case_id: object | None = None,
    reason: str | None = None,
    detail: str | None = None,
    at: datetime | None = None,
) -> Recorded:
    """Append one event in the caller's transaction: one INSERT, no shared row touched."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    values: dict[str, Any] = {
        "at": at or utcnow(),
        "user_id": actor.user_id if actor else None,
        "username": actor.username if actor else None,
        "institution": actor.institution if actor else None,
        "role": actor.role if actor else None,
        "ip": actor.ip if actor else None,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id) if object_id is not None else None,
        "case_id": case_id,
        "reason": (reason or None) and reason[:REASON_MAX],
        "detail": detail,
        "prev_hmac": None,
    }
    mac = values["hmac"] = event_hmac(audit_key, SimpleNamespace(**values))
    event_id = session.execute(_INSERT_EVENT, values).scalar_one()
    session.info[AUDIT_WRITTEN] = True
    return Recorded(event_id, mac)


def link_hmac(audit_key: bytes, seq: int, event_id: int, event_mac: str, prev: str) -> str:
    """A link: this event (id and HMAC) at this place, after the previous link."""
    content = f"link|{seq}|{event_id}|{event_mac}|{prev}".encode()
    return hmac.new(audit_key, content, hashlib.sha256).hexdigest()


def head_is_sealed(audit_key: bytes, head: AuditHead | None) -> bool:
    if head is None or (head.count == 0 and head.head_mac is None):
        return True  # the genesis head, before the first seal
    return head.head_mac is not None and hmac.compare_digest(
        head.head_mac, head_mac(audit_key, head)
    )


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events: int
    broken_event_id: int | None = None
    problem: str | None = None
    pending: int = 0  # events on the record, not linked yet (the sealer's next batch)


def _links_in_order(session: DbSession, batch: int = 2000) -> Generator[Any, None, None]:
    stmt = (
        select(AuditLink.seq, AuditLink.event_id, AuditLink.hmac.label("link_hmac"), AuditEvent)
        .outerjoin(AuditEvent, AuditEvent.id == AuditLink.event_id)
        .order_by(AuditLink.seq)
        .execution_options(yield_per=batch)
    )
    # A server-side cursor on PostgreSQL: closed even when the caller stops at a broken event.
    with session.execute(stmt) as result:
        for row in result:
            yield row
            if row.AuditEvent is not None:
                session.expunge(row.AuditEvent)


def _unlinked_events(session: DbSession, batch: int = 2000) -> Generator[AuditEvent, None, None]:
    linked = select(AuditLink.event_id).where(AuditLink.event_id == AuditEvent.id).exists()
    stmt = (
        select(AuditEvent).where(~linked).order_by(AuditEvent.id).execution_options(yield_per=batch)
    )
    with session.execute(stmt) as result:
        for event in result.scalars():
            yield event
            session.expunge(event)


def _altered(audit_key: bytes, event: AuditEvent) -> bool:
    return not hmac.compare_digest(event.hmac, event_hmac(audit_key, event))


@dataclass(frozen=True)
class _Walked:
    count: int = 0
    last_event_id: int = 0
    last_link: str = GENESIS_HMAC


def _check_links(session: DbSession, audit_key: bytes) -> VerifyResult | _Walked:
    """Walk the links in order: each names an event that is there, unaltered, in its place."""
    walked = _Walked()
    with closing(_links_in_order(session)) as links:
        for row in links:
            event, count = row.AuditEvent, walked.count
            if row.seq != count + 1:
                return VerifyResult(False, count, row.event_id, "missing or reordered link")
            if event is None:
                return VerifyResult(False, count, row.event_id, "missing")
            if _altered(audit_key, event):
                return VerifyResult(False, count, event.id, "content was altered")
            expected = link_hmac(audit_key, row.seq, event.id, event.hmac, walked.last_link)
            if not hmac.compare_digest(row.link_hmac, expected):
                return VerifyResult(False, count, event.id, "does not follow the previous event")
            walked = _Walked(count + 1, event.id, row.link_hmac)
    return walked


def verify_chain(session: DbSession, audit_key: bytes) -> VerifyResult:
    """Every link and the event it names, the sealed head, then the events not linked yet
    (their own HMACs: an edit shows at once, a deletion only once they are linked)."""
    walked = _check_links(session, audit_key)
    if isinstance(walked, VerifyResult):
        return walked
    count = walked.count
    head = session.get(AuditHead, HEAD_ID)
    head_count = head.count if head else 0
    head_hmac = head.last_hmac if head else GENESIS_HMAC
    if head_count != count or head_hmac != walked.last_link or not head_is_sealed(audit_key, head):
        after = walked.last_event_id + 1
        return VerifyResult(False, count, after, "events after this point were removed")
    pending = 0
    with closing(_unlinked_events(session)) as events:
        for event in events:
            if _altered(audit_key, event):
                return VerifyResult(False, count + pending, event.id, "content was altered")
            pending += 1
    return VerifyResult(True, count + pending, pending=pending)
