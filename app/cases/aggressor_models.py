"""The aggressor as a record of his own: one or more per incident.

His identity (names, DUI, birth date, alias and notes) is ciphertext sealed with the
case's data key, like hers. Plain columns hold only what statistics and the risk prompt
need. His blind indexes use purposes of their own (`aggressor_dui`,
`aggressor_name_dob`), so they can never be matched against a survivor's.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import UTCDateTime
from app.core.ids import new_id
from app.core.time import utcnow
from app.extensions import Base


class Aggressor(Base):
    __tablename__ = "aggressors"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    recorded_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    given_names_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    family_names_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    dui_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    birth_date_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    alias_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    notes_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    dui_bidx: Mapped[str | None] = mapped_column(String(32), index=True)
    name_dob_bidx: Mapped[str | None] = mapped_column(String(32), index=True)
    # The index key that made the two indexes (NULL: the first); `keys rotate-index`.
    index_key_id: Mapped[str | None] = mapped_column(String(16), index=True)
    # When his indexes last changed: the repeat signal dates from the later of two matches.
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sex: Mapped[str | None] = mapped_column(String(1))
    age_group: Mapped[str | None] = mapped_column(String(6))
    relationship: Mapped[str] = mapped_column(String(20))
    lives_with_her: Mapped[bool | None] = mapped_column(Boolean)
    has_firearm: Mapped[bool | None] = mapped_column(Boolean)
    firearm_licence: Mapped[bool | None] = mapped_column(Boolean)
    previous_complaints: Mapped[str] = mapped_column(String(8), default="unknown")
    works_at_institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  # declared on DeclarativeBase
