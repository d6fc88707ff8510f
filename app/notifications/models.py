"""A notification names a kind and a record number; the text is built when shown."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import UTCDateTime
from app.core.time import utcnow
from app.extensions import Base


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # To one user, or to every user of an institution (user_id NULL).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    case_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # A case number or referral id: an identifier, never a name or a narrative.
    reference: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
