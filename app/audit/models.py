"""The audit log: append-only events, each with its own HMAC, and the links that chain
them in order (written by the sealer, `app/audit/seal.py`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import UTCDateTime
from app.core.time import utcnow
from app.extensions import Base


class AuditEvent(Base):
    """Who did what to which object, when and from where. Never case content."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    username: Mapped[str | None] = mapped_column(String(60), index=True)
    institution: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40), index=True)
    object_type: Mapped[str | None] = mapped_column(String(30))
    object_id: Mapped[str | None] = mapped_column(String(40))
    case_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    ip: Mapped[str | None] = mapped_column(String(45))
    reason: Mapped[str | None] = mapped_column(String(500))
    # Codes and counts only (e.g. "status=accepted"): never a name or narrative.
    detail: Mapped[str | None] = mapped_column(String(200))
    # Events written before the sealer (migration 0018) carry their chain link here.
    prev_hmac: Mapped[str | None] = mapped_column(String(64))
    hmac: Mapped[str] = mapped_column(String(64))
    # PostgreSQL: the writing transaction's id, set by the database (see seal.py).
    xact: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # The audit key (its fingerprint) of `hmac`; NULL: the first key (migration 0020).
    key_id: Mapped[str | None] = mapped_column(String(16))


class AuditLink(Base):
    """One event's place in the chain: its HMAC over the event's id and HMAC and the
    previous link's. Written by the sealer only, never by a request."""

    __tablename__ = "audit_links"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    event_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    hmac: Mapped[str] = mapped_column(String(64))
    # The chain's key when it was linked: it changes only after a switch event.
    key_id: Mapped[str | None] = mapped_column(String(16))


class AuditHead(Base):
    """The chain's last link, moved by the sealer alone (requests never touch it); it
    shows when links were cut off the end of the chain."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_event_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), default=0
    )
    last_hmac: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    # Below it every event is linked: a transaction id on PostgreSQL, an event id on SQLite.
    floor: Mapped[int] = mapped_column(BigInteger, default=0)
    # HMAC of the fields above: the head cannot be moved back without the audit key.
    head_mac: Mapped[str | None] = mapped_column(String(64))
    # The chain's key, which made the last link and `head_mac`; NULL: the first key.
    key_id: Mapped[str | None] = mapped_column(String(16))


class BreakGlass(Base):
    """A supervisor's emergency, read-only, time-limited access to one case."""

    __tablename__ = "break_glass"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # Sealed with the case's data key: the reason may name the survivor. Set right after
    # the row gets its id (the id is part of what the seal authenticates).
    reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reviewed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    justified: Mapped[bool | None] = mapped_column(Boolean)
    review_note: Mapped[str | None] = mapped_column(String(500))
