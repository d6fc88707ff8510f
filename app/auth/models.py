"""Users of the network, their sessions and API tokens; roles and where each fits."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import UTCDateTime
from app.core.time import utcnow
from app.crypto.models import DataKey
from app.directory.models import INSTITUTION_KINDS, Institution
from app.extensions import Base

ROLES = (
    "pnc_agent",
    "health_staff",
    "womens_office",
    "prosecutor_staff",
    "court_staff",
    "legal_aid_staff",
    "shelter_staff",
    "supervisor",
    "admin",
)
CASE_ROLES = frozenset(ROLES) - {"supervisor", "admin"}
# Made by an administrator, these wait for a supervisor's approval: a case role reads
# cases, and a supervisor could approve the administrator's own case-role account.
APPROVED_ROLES = CASE_ROLES | {"supervisor"}

# DOMAIN.md: which institution kinds a role may belong to. A supervisor may sit anywhere
# except the system institution; an administrator only there.
ROLE_KINDS: dict[str, frozenset[str]] = {
    "pnc_agent": frozenset({"pnc_family_unit"}),
    "health_staff": frozenset({"health_unit", "forensic"}),
    "womens_office": frozenset({"womens_office"}),
    "prosecutor_staff": frozenset({"prosecutor"}),
    "court_staff": frozenset({"court"}),
    "legal_aid_staff": frozenset({"legal_aid"}),
    "shelter_staff": frozenset({"shelter"}),
    "supervisor": frozenset(set(INSTITUTION_KINDS) - {"system"}),
    "admin": frozenset({"system"}),
}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    # A one-time password stops working at this time (72 h after it was issued).
    temp_password_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Device cookies issued before this time are no longer trusted by the login throttle
    # (set by an account recovery: the lost phone or laptop may hold one).
    trusted_devices_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The TOTP secret is encrypted under the user's own data key.
    data_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("data_keys.id"))
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enrolled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Last accepted TOTP time step: a code at or before it is a replay.
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped by logout-everywhere, disabling, password or role change: every session
    # and token issued under an older stamp stops working at once.
    security_stamp: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Separation of duties: a case-role account an administrator made (or gave a case
    # role) waits, NULL, until a supervisor other than the one who asked approves it.
    # Operators' accounts (CLI, demo) are approved when made. No foreign keys: SQLite
    # could not drop these columns again while other tables point at users.
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by_user_id: Mapped[int | None] = mapped_column(Integer)
    requested_by_user_id: Mapped[int | None] = mapped_column(Integer)
    # The institution's lead: reassigns its cases and moves a leaver's caseload.
    lead: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    institution: Mapped[Institution] = relationship(lazy="joined", innerjoin=True)
    # Declared so the unit of work inserts the data key before the user that points to it.
    data_key: Mapped[DataKey] = relationship(lazy="raise")

    # Set for the request by the web login: the server-side session and its cookie id.
    web_session = None  # type: UserSession | None
    session_token = None  # type: str | None

    # What Flask-Login asks of a user (app/web/login.py), spelled out here so that the
    # domain does not import the web's login library. A disabled account counts as
    # signed out at once, in the request that disables it.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str | None:
        """The server-side session's cookie id, never the user id: a cookie names a session."""
        return self.session_token

    @property
    def has_case_role(self) -> bool:
        return self.role in CASE_ROLES

    @property
    def awaiting_approval(self) -> bool:
        return self.role in APPROVED_ROLES and self.approved_at is None


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # SHA-256 of the token: a database copy yields no usable token.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    security_stamp: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Written at most once a minute: a token unused for RUTA_TOKEN_IDLE_MINUTES is refused.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(45))

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class UserSession(Base):
    """A web login, kept on the server so it can be ended from anywhere at once."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # SHA-256 of the random id held in the signed cookie.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    security_stamp: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(45))
    # True until the user has changed the one-time password and enrolled TOTP.
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class KnownAddress(Base):
    """An address she got an API token from: failures from elsewhere never lock her out
    there (the login throttle's known-address list)."""

    __tablename__ = "known_addresses"
    __table_args__ = (UniqueConstraint("user_id", "ip", name="uq_known_addresses_user_ip"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    ip: Mapped[str] = mapped_column(String(45))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccountRecovery(Base):
    """A lost password or TOTP device: an administrator asks (with a reason), a supervisor
    who neither asked nor owns the account decides. Approved, her credentials are reset:
    a new one-time password from the administrator, TOTP enrolled again at first login."""

    __tablename__ = "account_recoveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(String(300))
    requested_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # None while it waits; True approved, False refused.
    approved: Mapped[bool | None] = mapped_column(Boolean)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined", innerjoin=True)

    @property
    def pending(self) -> bool:
        return self.decided_at is None
