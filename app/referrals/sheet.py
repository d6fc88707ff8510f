"""The hoja de referencia y contrarreferencia: the paper the network passes on with her.

It is printed by the sender or by a live receiver (the sides that read the referral);
a former party gets 404 (CONTRACT §5). Her name and a way to reach her are on it only
where the viewer's institution sees her whole record; otherwise the lines stay blank,
to be filled in by hand in front of her. Her account of the violence is never on it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.audit.service import audit
from app.auth.caller import Caller
from app.auth.models import User
from app.cases import access as case_access
from app.cases import policy as case_policy
from app.cases.models import Consent
from app.core.db import DbSession
from app.core.errors import NotFound
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for
from app.directory.models import District, Institution
from app.referrals.access import referral_for
from app.referrals.contact import contact_for_reader, shown_parts
from app.referrals.models import Referral, ReferralEvent
from app.referrals.present import present_referral


@dataclass(frozen=True)
class ConsentLine:
    """What the sheet says of her consent: given on a date (by her or her guardian),
    or a minor's mandatory report, which does not wait on it."""

    mandatory_report: bool
    given_on: datetime | None = None
    given_by: str | None = None  # "survivor", "guardian" or None (rows before 0008)


@dataclass(frozen=True)
class Sheet:
    referral: dict[str, Any]
    number: str
    sender: Institution
    receiver: Institution
    sent_by: str
    network: str | None  # the coordinating body of the sender's department
    consent: ConsentLine
    survivor: dict[str, str | None] | None  # name and contact, for a `full` view only
    # Her contact rules (a `full` view) and access needs (also a live receiver's part):
    # printed before any way to reach her (app/referrals/contact.py).
    contact: dict[str, Any]
    completed_by: str | None  # the receiver's worker who wrote the counter-referral
    completed_on: datetime | None


def referral_sheet(
    session: DbSession, ring: KeyRing, caller: Caller, referral_id: uuid.UUID | None
) -> Sheet:
    """The sheet for a side that reads the referral, audited before it is shown."""
    found = referral_for(session, caller, referral_id)
    if not found.reads_text:
        raise NotFound("referral not found")
    referral, case = found.referral, found.case
    behind = case_access.cases_behind_referrals(session, caller, [case.id]).get(case.id)
    full = behind is not None and behind.view == case_policy.FULL
    cipher = cipher_for(ring, case.data_key)
    survivor = _survivor(cipher, behind) if behind and full else None
    contact = contact_for_reader(cipher, behind, found.reads_text, found.sides)
    audit(
        session,
        ring.audit_key,
        caller,
        "case_view" if survivor else "referral_view",
        object_type="referral_sheet",
        object_id=referral.id,
        case_id=case.id,
        detail=_sheet_detail(survivor is not None, shown_parts(contact)),
    )
    completed = _completed(session, referral)
    return Sheet(
        referral=present_referral(ring, found),
        number=case.number,
        sender=referral.from_institution,
        receiver=referral.to_institution,
        sent_by=_display_name(session, referral.created_by_user_id),
        network=_network(session, referral.from_institution),
        consent=_consent(session, referral),
        survivor=survivor,
        contact=contact,
        completed_by=completed[0] if completed else None,
        completed_on=completed[1] if completed else None,
    )


def _sheet_detail(whole: bool, parts: list[str]) -> str:
    """What the sheet showed, as codes: her identity, or the referral's codes and text
    (with her access needs when a live receiver was shown its part of them)."""
    if whole:
        return "referral_sheet"
    return "referral_sheet:codes_and_text" + "".join(f"+{p}" for p in parts)


def _survivor(cipher: FieldCipher, behind: case_access.ReferralCase) -> dict[str, str | None]:
    """Her name, and her safe contact (or else her phone): never her address."""
    person = behind.case.survivor

    def opened(field: str) -> str | None:
        return cipher.open_text("survivors", person.id, field, getattr(person, f"{field}_enc"))

    name = " ".join(part for part in (opened("given_names"), opened("family_names")) if part)
    safe = opened("safe_contact")
    return {
        "name": name,
        "contact": safe or opened("phone"),
        "safe_contact": "yes" if safe else None,
    }


def _display_name(session: DbSession, user_id: int | None) -> str:
    user = session.get(User, user_id) if user_id is not None else None
    return (user.display_name or user.username) if user else ""


def _network(session: DbSession, sender: Institution) -> str | None:
    """The coordinating institution of the sender's department, which heads the sheet."""
    department = select(District.department).where(District.code == sender.municipality)
    stmt = (
        select(Institution.name)
        .join(District, District.code == Institution.municipality)
        .where(
            Institution.kind == "coordination",
            Institution.active.is_(True),
            District.department == department.scalar_subquery(),
        )
        .order_by(Institution.id)
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


def _consent(session: DbSession, referral: Referral) -> ConsentLine:
    """Her consent in force when the referral left: the newest recorded before it."""
    if referral.mandatory_report:
        return ConsentLine(mandatory_report=True)
    stmt = (
        select(Consent.recorded_at, Consent.given_by, Consent.share_with_network)
        .where(Consent.case_id == referral.case_id, Consent.recorded_at <= referral.created_at)
        .order_by(Consent.recorded_at.desc(), Consent.id.desc())
        .limit(1)
    )
    row = session.execute(stmt).first()
    if row is None or not row.share_with_network:
        return ConsentLine(mandatory_report=False)
    return ConsentLine(False, row.recorded_at, row.given_by)


def _completed(session: DbSession, referral: Referral) -> tuple[str, datetime] | None:
    """Who wrote the counter-referral, and when."""
    stmt = (
        select(User.display_name, User.username, ReferralEvent.at)
        .join(ReferralEvent, ReferralEvent.user_id == User.id)
        .where(ReferralEvent.referral_id == referral.id, ReferralEvent.action == "complete")
        .order_by(ReferralEvent.id.desc())
        .limit(1)
    )
    row = session.execute(stmt).first()
    return (row.display_name or row.username, row.at) if row else None
