"""Writing and verifying the hash-chained audit log.

Each row's HMAC (under the audit key, kept apart from the KEK and the index key) covers
its own content and the previous row's HMAC. Editing, deleting, inserting or reordering
a row breaks the chain from that row on; cutting rows off the end no longer matches the
head row. Writers lock the head row, so two transactions never extend the same link.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select

from app.audit.models import AuditEvent, AuditHead
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
) -> AuditEvent:
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
) -> AuditEvent:
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


def _canonical(event: AuditEvent) -> bytes:
    content = {
        "id": event.id,
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
        "prev": event.prev_hmac,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode()


def event_hmac(audit_key: bytes, event: AuditEvent) -> str:
    return hmac.new(audit_key, _canonical(event), hashlib.sha256).hexdigest()


def head_mac(audit_key: bytes, head: AuditHead) -> str:
    content = f"head|{head.last_event_id}|{head.last_hmac}|{head.count}".encode()
    return hmac.new(audit_key, content, hashlib.sha256).hexdigest()


def _locked_head(session: DbSession) -> AuditHead:
    stmt = select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()
    head = session.execute(stmt).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=HEAD_ID, last_event_id=0, last_hmac=GENESIS_HMAC, count=0)
        session.add(head)
    return head


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
) -> AuditEvent:
    """Append one event in the caller's transaction (flushed, not committed)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    head = _locked_head(session)
    event = AuditEvent(
        id=head.last_event_id + 1,  # ids come from the locked head: no gaps, no races
        at=at or utcnow(),
        user_id=actor.user_id if actor else None,
        username=actor.username if actor else None,
        institution=actor.institution if actor else None,
        role=actor.role if actor else None,
        ip=actor.ip if actor else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        case_id=case_id,
        reason=(reason or None) and reason[:REASON_MAX],
        detail=detail,
        prev_hmac=head.last_hmac,
    )
    event.hmac = event_hmac(audit_key, event)
    session.add(event)
    head.last_event_id = event.id
    head.last_hmac = event.hmac
    head.count += 1
    head.head_mac = head_mac(audit_key, head)
    session.flush()
    session.info[AUDIT_WRITTEN] = True
    return event


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events: int
    broken_event_id: int | None = None
    problem: str | None = None


def _events_in_order(session: DbSession, batch: int = 2000) -> Generator[AuditEvent, None, None]:
    stmt = select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=batch)
    # A server-side cursor on PostgreSQL: closed even when the caller stops at a broken event.
    with session.execute(stmt) as result:
        for event in result.scalars():
            yield event
            session.expunge(event)


def verify_chain(session: DbSession, audit_key: bytes) -> VerifyResult:
    expected_prev = GENESIS_HMAC
    expected_id = 1
    count = 0
    with closing(_events_in_order(session)) as events:
        for event in events:
            if event.id != expected_id:
                return VerifyResult(False, count, expected_id, "missing or reordered event")
            if event.prev_hmac != expected_prev:
                return VerifyResult(False, count, event.id, "does not follow the previous event")
            if not hmac.compare_digest(event.hmac, event_hmac(audit_key, event)):
                return VerifyResult(False, count, event.id, "content was altered")
            expected_prev = event.hmac
            expected_id += 1
            count += 1
    head = session.get(AuditHead, HEAD_ID)
    head_id = head.last_event_id if head else 0
    head_hmac = head.last_hmac if head else GENESIS_HMAC
    if head_id != count or head_hmac != expected_prev or not _head_sealed(audit_key, head):
        return VerifyResult(False, count, count + 1, "events after this point were removed")
    return VerifyResult(True, count)


def _head_sealed(audit_key: bytes, head: AuditHead | None) -> bool:
    if head is None or head.count == 0:
        return True  # the genesis head, before any event
    return head.head_mac is not None and hmac.compare_digest(
        head.head_mac, head_mac(audit_key, head)
    )
