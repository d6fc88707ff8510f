"""Writing and verifying the audit log.

A request appends its event with one INSERT and its own HMAC (under the audit key, kept
apart from the KEK and the index key), touching no shared row. The sealer (seal.py)
then chains the committed events in order: each link's HMAC covers the event's id and
HMAC and the previous link. Editing, deleting or reordering a linked event breaks its
link; cutting links off the end no longer matches the sealed head. docs/audit.md has the
design and its threat model.

The audit key can be replaced (`keys rotate-audit`). Each event names the key of its
HMAC; the chain keeps one key at a time, and moves to the next only after linking a
switch event (`audit_key_switch`, naming the new key) made with the key it had. So a
link under a key the chain never switched to, or a switch that is missing, breaks the
chain like any other edit. Past keys stay in the key file to verify what they made.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Protocol, cast

from sqlalchemy import Table, insert, select

from app.audit.models import AuditEvent, AuditHead, AuditLink
from app.core.db import DbSession
from app.core.time import utcnow
from app.crypto.keyring import HmacKeys, key_fingerprint

GENESIS_HMAC = "0" * 64
HEAD_ID = 1
# Set in `session.info` by every write: tells the request's end that an anchor may be due.
AUDIT_WRITTEN = "ruta.audit_written"
REASON_MAX = 500
KEY_SWITCH = "audit_key_switch"
KEY_SWITCH_PREFIX = "key="

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
        "institution_create",
        "institution_update",
        "service_create",
        "service_update",
        "measure_type_create",
        "measure_type_update",
        "district_update",
        "legal_hold",
        "erasure_request",
        "record_purge",
        "key_rotation",
        "audit_key_switch",
        "case_rekey",
        "case_transfer",
        "transfer_transition",
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
    if getattr(event, "key_id", None) is not None:  # written since migration 0020
        content["key"] = event.key_id
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode()


def event_hmac(audit_key: bytes, event: Any) -> str:
    """The event's own HMAC. Its place in the order is the link's to seal (seal.py)."""
    return hmac.new(audit_key, _canonical(event), hashlib.sha256).hexdigest()


@lru_cache(maxsize=16)
def audit_key_id(audit_key: bytes) -> str:
    return key_fingerprint(audit_key, "audit")


AuditKeysLike = bytes | HmacKeys


def keys_of(audit_keys: AuditKeysLike) -> HmacKeys:
    """The ring's audit keys; a bare key is a ring of one (tests, and before a rotation)."""
    return audit_keys if isinstance(audit_keys, HmacKeys) else HmacKeys((audit_keys,), "audit")


def switch_target(event: Any) -> str | None:
    """The key a switch event moves the chain to, or None for any other event."""
    detail = event.detail or ""
    if event.action != KEY_SWITCH or not detail.startswith(KEY_SWITCH_PREFIX):
        return None
    return detail[len(KEY_SWITCH_PREFIX) :]


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
        "key_id": audit_key_id(audit_key),
    }
    mac = values["hmac"] = event_hmac(audit_key, SimpleNamespace(**values))
    event_id = session.execute(_INSERT_EVENT, values).scalar_one()
    session.info[AUDIT_WRITTEN] = True
    return Recorded(event_id, mac)


def link_hmac(audit_key: bytes, seq: int, event_id: int, event_mac: str, prev: str) -> str:
    """A link: this event (id and HMAC) at this place, after the previous link."""
    content = f"link|{seq}|{event_id}|{event_mac}|{prev}".encode()
    return hmac.new(audit_key, content, hashlib.sha256).hexdigest()


def chain_key(session: DbSession, audit_keys: AuditKeysLike) -> ChainKey:
    """The key the chain is under now, as its sealed head says."""
    return ChainKey.of_head(keys_of(audit_keys), session.get(AuditHead, HEAD_ID))


def record_key_switch(session: DbSession, audit_keys: HmacKeys, actor: Actor) -> Recorded:
    """The switch to the active key, signed with the key the chain is under: linked under
    that key, it names the new one, and only the links after it are the new key's. A cut
    at the switch would need the old key to seal a chain without it."""
    chain = chain_key(session, audit_keys)
    if chain.key is None:
        raise KeyError(chain.key_id)
    detail = f"{KEY_SWITCH_PREFIX}{audit_keys.active_id}"
    return record_event(session, chain.key, actor, KEY_SWITCH, detail=detail)


def head_is_sealed(audit_keys: AuditKeysLike, head: AuditHead | None) -> bool:
    if head is None or (head.count == 0 and head.head_mac is None):
        return True  # the genesis head, before the first seal
    key = keys_of(audit_keys).get(head.key_id)
    return (
        key is not None
        and head.head_mac is not None
        and hmac.compare_digest(head.head_mac, head_mac(key, head))
    )


def event_holds(keys: HmacKeys, event: Any) -> bool:
    """The event's HMAC is right under the key it names (one of the file's)."""
    key = keys.get(event.key_id)
    return key is not None and hmac.compare_digest(event.hmac, event_hmac(key, event))


@dataclass(frozen=True)
class ChainKey:
    """The key the chain is under at a place: it made the links from the last switch on."""

    keys: HmacKeys
    key_id: str

    @classmethod
    def first(cls, keys: HmacKeys) -> ChainKey:
        return cls(keys, keys.ids()[0])

    @classmethod
    def of_head(cls, keys: HmacKeys, head: AuditHead | None) -> ChainKey:
        named = head.key_id if head is not None else None
        return cls(keys, named) if named else cls.first(keys)

    @property
    def key(self) -> bytes | None:
        return self.keys.get(self.key_id)

    @property
    def stored_id(self) -> str | None:
        """What a link or the head records: NULL for the first key, as before 0020."""
        return None if self.key_id == self.keys.ids()[0] else self.key_id

    def names(self, key_id: str | None) -> bool:
        return (key_id or self.keys.ids()[0]) == self.key_id

    def after(self, event: Any) -> ChainKey:
        """The chain's key once `event` is linked: a switch made under it moves it on."""
        target = switch_target(event)
        if target is None or not self.names(event.key_id):
            return self
        return ChainKey(self.keys, target)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events: int
    broken_event_id: int | None = None
    problem: str | None = None
    pending: int = 0  # events on the record, not linked yet (the sealer's next batch)


def _links_in_order(session: DbSession, batch: int = 2000) -> Generator[Any, None, None]:
    stmt = (
        select(
            AuditLink.seq,
            AuditLink.event_id,
            AuditLink.hmac.label("link_hmac"),
            AuditLink.key_id.label("link_key_id"),
            AuditEvent,
        )
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


@dataclass(frozen=True)
class _Walked:
    chain: ChainKey
    count: int = 0
    last_event_id: int = 0
    last_link: str = GENESIS_HMAC


def _link_problem(walked: _Walked, row: Any) -> str | None:
    event, chain = row.AuditEvent, walked.chain
    if row.seq != walked.count + 1:
        return "missing or reordered link"
    if event is None:
        return "missing"
    if not event_holds(chain.keys, event):
        return "content was altered"
    if not chain.names(row.link_key_id) or chain.key is None:
        return "linked under an audit key the chain had not switched to"
    expected = link_hmac(chain.key, row.seq, event.id, event.hmac, walked.last_link)
    if not hmac.compare_digest(row.link_hmac, expected):
        return "does not follow the previous event"
    return None


def _check_links(session: DbSession, keys: HmacKeys) -> VerifyResult | _Walked:
    """Walk the links in order: each names an event that is there, unaltered, in its
    place, linked under the chain's key of that place."""
    walked = _Walked(ChainKey.first(keys))
    with closing(_links_in_order(session)) as links:
        for row in links:
            problem = _link_problem(walked, row)
            if problem:
                return VerifyResult(False, walked.count, row.event_id, problem)
            event = row.AuditEvent
            chain = walked.chain.after(event)
            walked = _Walked(chain, walked.count + 1, event.id, row.link_hmac)
    return walked


def _head_holds(walked: _Walked, head: AuditHead | None) -> bool:
    head_count = head.count if head else 0
    head_hmac = head.last_hmac if head else GENESIS_HMAC
    head_key = ChainKey.of_head(walked.chain.keys, head)
    return (
        head_count == walked.count
        and head_hmac == walked.last_link
        and head_key.key_id == walked.chain.key_id
        and head_is_sealed(walked.chain.keys, head)
    )


def verify_chain(session: DbSession, audit_keys: AuditKeysLike) -> VerifyResult:
    """Every link and the event it names, the sealed head, then the events not linked yet
    (their own HMACs: an edit shows at once, a deletion only once they are linked)."""
    keys = keys_of(audit_keys)
    walked = _check_links(session, keys)
    if isinstance(walked, VerifyResult):
        return walked
    count = walked.count
    if not _head_holds(walked, session.get(AuditHead, HEAD_ID)):
        after = walked.last_event_id + 1
        return VerifyResult(False, count, after, "events after this point were removed")
    pending = 0
    with closing(_unlinked_events(session)) as events:
        for event in events:
            if not event_holds(keys, event):
                return VerifyResult(False, count + pending, event.id, "content was altered")
            pending += 1
    return VerifyResult(True, count + pending, pending=pending)
