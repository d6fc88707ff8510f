"""The sealer: chains the committed audit events in order, in batches.

Requests never touch a shared row: each appends its event with its own HMAC. Here one
sealer at a time (an advisory lock on PostgreSQL, SQLite's single writer) takes the
events not linked yet, checks each HMAC, writes one link per event — its HMAC covers
the event's id and HMAC and the previous link — and moves the sealed head.

Which events can still appear? On SQLite none below the last linked id: writers take
turns and ids grow. On PostgreSQL a transaction still running may commit an event
whose id is lower than ones already linked, so the sealer looks by the writing
transaction's id (`xact`) instead: every transaction older than the oldest one still
running when it looked (the snapshot's xmin) has ended, so its events are all either
linked now or never were. That xmin becomes the head's `floor`, and the next run looks
only at events of transactions from the floor on — a few seconds' worth.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert, literal_column, select, text

from app.audit.models import AuditEvent, AuditHead, AuditLink
from app.audit.service import (
    GENESIS_HMAC,
    HEAD_ID,
    AuditKeysLike,
    ChainKey,
    event_holds,
    head_is_sealed,
    head_mac,
    keys_of,
    link_hmac,
)
from app.core.db import DbSession

log = logging.getLogger("ruta.audit")
BATCH = 5000
# One sealer per schema (the tests run one schema per worker in one database).
_TRY_LOCK = text(
    "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.ruta_audit_seal'))"
)
_WAIT_LOCK = text(
    "SELECT true FROM "
    "(SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.ruta_audit_seal'))) AS taken"
)
# In the same statement as the scan, so from the same snapshot.
_HORIZON: Any = literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")


@dataclass(frozen=True)
class SealResult:
    linked: int  # events this run linked
    count: int  # links in the chain after it
    last_event_id: int
    last_hmac: str
    skipped: bool = False  # another sealer held the lock: it links them instead
    problem: str | None = None  # what stopped the run (an altered event, a moved head)


class SealRefused(Exception):
    """The chain cannot be extended safely: `audit verify` says where it broke."""


def _postgresql(session: DbSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _locked_head(session: DbSession) -> AuditHead:
    head = session.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=HEAD_ID, last_event_id=0, last_hmac=GENESIS_HMAC, count=0, floor=0)
        session.add(head)
    return head


def _unlinked(session: DbSession, head: AuditHead, batch: int) -> tuple[list[Any], int | None]:
    """The next events to link, oldest id first, and (PostgreSQL) the snapshot's xmin."""
    linked = select(AuditLink.event_id).where(AuditLink.event_id == AuditEvent.id).exists()
    events = cast(Table, AuditEvent.__table__)
    if _postgresql(session):
        stmt = select(events, _HORIZON.label("horizon")).where(events.c.xact >= head.floor)
    else:
        stmt = select(events).where(events.c.id > head.floor)
    stmt = stmt.where(~linked).order_by(events.c.id).limit(batch)
    rows = list(session.execute(stmt).all())
    horizon = rows[0].horizon if rows and _postgresql(session) else None
    return rows, horizon


def _link(chain: ChainKey, head: AuditHead, rows: list[Any]) -> tuple[list[dict[str, Any]], str]:
    """Links for `rows` in order, stopping before the first event whose HMAC is wrong.
    Each link is made with the chain's key of its place: a switch event moves it on."""
    links: list[dict[str, Any]] = []
    prev, seq = head.last_hmac, head.count
    for row in rows:
        key = chain.key
        if not event_holds(chain.keys, row):
            return links, f"event {row.id} was altered before it was sealed"
        if key is None:
            return links, f"the audit key {chain.key_id} is not in the key file"
        seq += 1
        prev = link_hmac(key, seq, row.id, row.hmac, prev)
        links.append({"seq": seq, "event_id": row.id, "hmac": prev, "key_id": chain.stored_id})
        chain = chain.after(row)
    return links, ""


def _advance(chain: ChainKey, head: AuditHead, links: list[dict[str, Any]], floor: int) -> None:
    if links:
        head.count = links[-1]["seq"]
        head.last_event_id = links[-1]["event_id"]
        head.last_hmac = links[-1]["hmac"]
    head.floor = max(head.floor, floor)
    head.key_id = chain.stored_id
    key = chain.key
    if key is None:
        raise SealRefused(f"the audit key {chain.key_id} is not in the key file")
    head.head_mac = head_mac(key, head)


def _chain_after(chain: ChainKey, rows: list[Any], links: list[dict[str, Any]]) -> ChainKey:
    for row in rows[: len(links)]:
        chain = chain.after(row)
    return chain


def _seal_one_batch(
    session: DbSession, audit_keys: AuditKeysLike, batch: int, wait: bool
) -> SealResult:
    if _postgresql(session) and not session.execute(_WAIT_LOCK if wait else _TRY_LOCK).scalar():
        session.rollback()
        return SealResult(0, 0, 0, GENESIS_HMAC, skipped=True)
    keys = keys_of(audit_keys)
    head = _locked_head(session)
    if not head_is_sealed(keys, head):
        raise SealRefused("the audit head is not sealed with the audit key; run `audit verify`")
    chain = ChainKey.of_head(keys, head)
    rows, horizon = _unlinked(session, head, batch)
    links, problem = _link(chain, head, rows)
    if links:
        session.execute(insert(cast(Table, AuditLink.__table__)), links)
    complete = not problem and len(rows) < batch
    if not _postgresql(session):
        floor = links[-1]["event_id"] if links else head.floor
    else:  # the xmin only once every event below it was seen and linked
        floor = horizon if complete and horizon is not None else head.floor
    if links or floor != head.floor:
        _advance(_chain_after(chain, rows, links), head, links, floor)
    result = SealResult(
        len(links), head.count, head.last_event_id, head.last_hmac, problem=problem or None
    )
    session.commit()
    return result


def seal(
    session: DbSession, audit_key: AuditKeysLike, batch: int = BATCH, wait: bool = False
) -> SealResult:
    """Link every committed event not linked yet, one transaction per `batch`.

    Call it with no transaction of the caller's open: it commits its own. Another sealer
    at work makes it return at once (`skipped`), or, with `wait`, wait its turn. An altered
    event stops it there (logged; `audit verify` names it); a head that is not sealed
    with the audit key raises SealRefused.
    """
    linked = 0
    while True:
        try:
            result = _seal_one_batch(session, audit_key, batch, wait)
        except BaseException:
            session.rollback()
            raise
        linked += result.linked
        if result.skipped or result.problem or result.linked < batch:
            break
    if result.problem:
        log.error("audit seal stopped: %s", result.problem)
    return SealResult(
        linked,
        result.count,
        result.last_event_id,
        result.last_hmac,
        skipped=result.skipped,
        problem=result.problem,
    )
