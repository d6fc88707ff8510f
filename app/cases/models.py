"""The single record: survivor, case, parties, incidents and consent.

Identity, perpetrator details and narratives are ciphertext (`*_enc`, sealed with the
case's data key). Plain columns hold only what statistics and inboxes need.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.directory.models import Institution

if TYPE_CHECKING:
    from app.cases.care_models import (
        Attachment,
        CareNote,
        CaseStatusChange,
        FollowUp,
        RiskAssessment,
        SafetyPlan,
    )
    from app.cases.legal_models import Complaint
from app.core.db import UTCDateTime
from app.core.ids import new_id
from app.core.time import utcnow
from app.crypto.models import DataKey
from app.extensions import Base


class Survivor(Base):
    __tablename__ = "survivors"
    # The work list's filter by her municipality, from the index alone (migration 0013).
    __table_args__ = (Index("ix_survivors_work_list", "id", "municipality"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    given_names_enc: Mapped[bytes] = mapped_column(LargeBinary)
    family_names_enc: Mapped[bytes] = mapped_column(LargeBinary)
    dui_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    birth_date_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    address_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    safe_contact_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Sealed JSON documents (app/cases/contact_data.py): how she may be contacted, and
    # her language, interpreter and disability needs (migration 0022).
    contact_protocol_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_needs_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    dui_bidx: Mapped[str | None] = mapped_column(String(32), index=True)
    name_dob_bidx: Mapped[str | None] = mapped_column(String(32), index=True)
    phone_bidx: Mapped[str | None] = mapped_column(String(32), index=True)
    # The index key (its fingerprint) that made the indexes above and her name tokens;
    # NULL: the first one (migration 0020). `keys rotate-index` moves every row.
    index_key_id: Mapped[str | None] = mapped_column(String(16), index=True)
    # Her pseudonymous code for statistics (app/crypto/survivor_code.py) and the
    # statistics key (its fingerprint) that made it; NULL before migration 0028 until
    # `keys statistics-codes` fills it. The counts of women are COUNT(DISTINCT stat_code).
    stat_code: Mapped[str | None] = mapped_column(String(16), index=True)
    stat_key_id: Mapped[str | None] = mapped_column(String(16), index=True)
    sex: Mapped[str] = mapped_column(String(1))
    birth_year: Mapped[int | None] = mapped_column(SmallInteger)
    municipality: Mapped[str] = mapped_column(ForeignKey("municipalities.code"))
    disability: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    # A correction from a stale read matches no row and raises (409).
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  # declared on DeclarativeBase


class CaseNumberCounter(Base):
    """One row per department and year; incremented in place so numbers never repeat."""

    __tablename__ = "case_number_counters"

    department: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    __tablename__ = "cases"
    # Statistics check consent per incident: answered from this index, not the row.
    __table_args__ = (
        Index("ix_cases_id_consent_statistics", "id", "consent_statistics"),
        # The work list's lookups of her cases, from the index alone (migration 0013).
        Index(
            "ix_cases_work_list",
            *("id", "merged_into_id", "updated_at", "status", "risk_level", "number"),
            *("survivor_id", "purged_at"),
        ),
        # The partial-name search goes from a case to her survivor and back from the
        # name tokens, each from an index alone (migration 0014, docs/search.md); a
        # purged case drops out of both (0016).
        Index("ix_cases_id_survivor", "id", "merged_into_id", "survivor_id", "purged_at"),
        Index("ix_cases_survivor_id", "survivor_id", "merged_into_id", "id", "purged_at"),
        # Open high-risk cases for the indicators (migration 0030).
        Index(
            "ix_cases_risk_statistics",
            *("risk_level", "consent_statistics", "merged_into_id", "status", "id"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    survivor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("survivors.id"), unique=True)
    data_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("data_keys.id"))
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)
    risk_level: Mapped[str | None] = mapped_column(String(10), index=True)
    mandatory_report: Mapped[bool] = mapped_column(Boolean, default=False)
    # Current consent, copied from the newest Consent row so statistics filter cheaply.
    consent_network: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_statistics: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    consent_police: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_by_institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    opened_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The institution that coordinates her care: the opener until a transfer moves it
    # (app/referrals/transfers.py). Set by every intake and backfilled by 0025; no
    # foreign key or NOT NULL, which SQLite could only add by rebuilding `cases`.
    lead_institution_id: Mapped[int] = mapped_column(Integer, nullable=True)
    status_code_bidx: Mapped[str] = mapped_column(String(32), unique=True)
    status_pin_hash: Mapped[str] = mapped_column(String(200))
    close_reason: Mapped[str | None] = mapped_column(String(200))
    # Set on a record absorbed by a merge: its number still finds the surviving one.
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # Retention (docs/retention.md, migration 0016): its period runs from `closed_at`;
    # a legal hold (its reason sealed) keeps it whatever the period; `purged_at` is set
    # when its data key was destroyed, and the record can no longer be read.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    legal_hold_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    legal_hold_by_user_id: Mapped[int | None] = mapped_column(Integer)
    legal_hold_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    survivor: Mapped[Survivor] = relationship(lazy="raise")
    data_key: Mapped[DataKey] = relationship(lazy="raise")
    incidents: Mapped[list[Incident]] = relationship(
        back_populates="case", order_by="Incident.occurred_on", lazy="raise"
    )
    parties: Mapped[list[CaseParty]] = relationship(order_by="CaseParty.since", lazy="raise")
    consents: Mapped[list[Consent]] = relationship(order_by="Consent.recorded_at", lazy="raise")
    notes: Mapped[list[CareNote]] = relationship(order_by="CareNote.given_on", lazy="raise")
    follow_ups: Mapped[list[FollowUp]] = relationship(order_by="FollowUp.due_on", lazy="raise")
    risk_assessments: Mapped[list[RiskAssessment]] = relationship(
        order_by="RiskAssessment.created_at", lazy="raise"
    )
    safety_plan: Mapped[SafetyPlan | None] = relationship(lazy="raise", uselist=False)
    attachments: Mapped[list[Attachment]] = relationship(
        order_by="Attachment.created_at", lazy="raise"
    )
    complaints: Mapped[list[Complaint]] = relationship(order_by="Complaint.filed_on", lazy="raise")
    status_changes: Mapped[list[CaseStatusChange]] = relationship(
        order_by="CaseStatusChange.at", lazy="raise"
    )

    # Optimistic locking: an UPDATE from a stale read matches no row and raises.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  # declared on DeclarativeBase


class CaseParty(Base):
    """Why and since when an institution takes part in a case; access follows from it."""

    __tablename__ = "case_parties"
    __table_args__ = (
        Index("ix_case_parties_institution_case", "institution_id", "case_id"),
        # An institution's live party rows, the work list's driving table (migration 0013).
        Index(
            "ix_case_parties_live_institution",
            "institution_id",
            "case_id",
            "access",
            "ended_at",
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    reason: Mapped[str] = mapped_column(String(20))
    referral_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the access ends (a declined or cancelled referral); NULL while it lasts.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    added_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # `full`, or `own_parts`: what it records itself and that the record exists (§5).
    access: Mapped[str] = mapped_column(String(10), default="full", server_default="full")
    # Joins through a matched intake wait in the supervisors' review queue.
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    institution: Mapped[Institution] = relationship(lazy="joined", innerjoin=True)


class CaseExclusion(Base):
    """An institution the survivor said must never see her record (a conflict of
    interest: the aggressor works there). It joins or receives with `own_parts` at most."""

    __tablename__ = "case_exclusions"
    __table_args__ = (
        UniqueConstraint("case_id", "institution_id", name="uq_case_exclusions_case_institution"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


incident_violence_types = Table(
    "incident_violence_types",
    Base.metadata,
    Column("incident_id", ForeignKey("incidents.id"), primary_key=True),
    Column("violence_type", String(20), primary_key=True, index=True),
)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_occurred_municipality", "occurred_on", "municipality"),
        # Covers the observatory's counts by period, place and case (migration 0005).
        Index("ix_incidents_statistics", "occurred_on", "municipality", "case_id", "id"),
        # The task list's rapes of the last 72 hours (migration 0013).
        Index("ix_incidents_type_recorded", "gbvims_type", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    occurred_on: Mapped[date] = mapped_column(Date)
    reported_on: Mapped[date] = mapped_column(Date)
    municipality: Mapped[str] = mapped_column(ForeignKey("municipalities.code"))
    place_type: Mapped[str | None] = mapped_column(String(12))
    # Space-separated codes, kept with the row for display; the table above is for counting.
    violence_codes: Mapped[str] = mapped_column(String(120))
    penetration: Mapped[bool | None] = mapped_column(Boolean)
    perpetrator_relationship: Mapped[str] = mapped_column(String(20))
    perpetrator_details_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    weapon: Mapped[str | None] = mapped_column(String(10))
    # Strangled, choked or suffocated: the case stays high whatever the score (0015).
    strangulation: Mapped[bool | None] = mapped_column(Boolean)
    children_present: Mapped[bool | None] = mapped_column(Boolean)
    narrative_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    age_group: Mapped[str | None] = mapped_column(String(6))
    gbvims_type: Mapped[str] = mapped_column(String(24))
    context: Mapped[str | None] = mapped_column(String(24))
    entry_institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    recorded_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # An incident entered in error is voided, never deleted: kept, marked, not counted.
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_by_user_id: Mapped[int | None] = mapped_column(Integer)
    void_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # "The same event reported again" (0028): an earlier incident of the same case that
    # this one tells again; counted once, under the earlier one. No foreign key in the
    # database (SQLite cannot drop one without copying the table): the service checks it.
    repeat_of_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    # The LEIV art. 10 modality (app/cases/vocab.py MODALITIES); NULL: not stated.
    modality: Mapped[str | None] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    case: Mapped[Case] = relationship(back_populates="incidents", lazy="raise")
    entry_institution: Mapped[Institution] = relationship(lazy="joined", innerjoin=True)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  # declared on DeclarativeBase

    @property
    def violence_types(self) -> list[str]:
        return self.violence_codes.split()


class Consent(Base):
    """Each recording or revocation is a new row; the newest one is in force."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    share_with_network: Mapped[bool] = mapped_column(Boolean)
    statistics: Mapped[bool] = mapped_column(Boolean)
    police: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_by_institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    # Who gave it: `survivor`, or `guardian` for a child. NULL on rows before 0008.
    given_by: Mapped[str | None] = mapped_column(String(10))

    recorded_by_institution: Mapped[Institution] = relationship(lazy="joined", innerjoin=True)
