"""Her requests to erase her record: asked by a party with the whole record, decided by
a supervisor who did not ask, carried out by the next `records purge`."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import UTCDateTime
from app.core.ids import new_id
from app.core.time import utcnow
from app.extensions import Base


class ErasureRequest(Base):
    __tablename__ = "erasure_requests"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    # pending → approved → done; pending → rejected.
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    # A code of LEGAL_BASES (plain: it says which right, not what she said).
    legal_basis: Mapped[str] = mapped_column(String(24))
    # Her words and the worker's, which may name people: sealed under the case's key.
    reason_enc: Mapped[bytes] = mapped_column(LargeBinary)
    requested_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_by_institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    carried_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
