"""Referrals between the institutions of the network: send, answer, track to the end.

Statuses (CONTRACT.md): sent → accepted → in_progress → completed; sent → declined;
sent|accepted|in_progress → cancelled. The receiver moves it forward, the sender
cancels; for a receiver with no users in Ruta the sender records what happened. The
receiver becomes a party of the case when it accepts, with the whole record only while
her consent to share (or a mandatory report) stands. The moves are in `moves.py`, the
inbox in `listing.py`, the printed sheet in `sheet.py`.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext
from sqlalchemy import and_, func, or_, select

from app.audit.service import audit
from app.auth.caller import Caller
from app.auth.throttle_store import charge_write
from app.cases import access as case_access
from app.cases import care, dependants
from app.cases import policy as case_policy
from app.cases import service as cases
from app.cases.models import Case
from app.cases.present import WITHHELD
from app.cases.vocab import age_on
from app.core.db import DbSession
from app.core.errors import Forbidden, InvalidInput, NotFound
from app.core.ids import is_db_id
from app.core.time import local_today, utcnow
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for
from app.directory.models import Institution
from app.notifications.service import notify_institution, notify_supervisors
from app.referrals.access import (
    ReferralAccess,
    has_case_workers,
    referral_for,
    referrals_of_case,
)
from app.referrals.contact import contact_for_reader, shown_parts
from app.referrals.models import Referral, ReferralEvent
from app.referrals.present import present_referral, with_referrals

URGENCY_DAYS = {"immediate": 0, "priority": 3, "routine": 10}
LIVE = ("sent", "accepted", "in_progress")


def due_date(urgency: str, sent_on: date) -> date:
    return sent_on + timedelta(days=URGENCY_DAYS[urgency])


def _receiver(session: DbSession, institution_id: int) -> Institution:
    # A number no id column holds is no institution (and must not reach the query).
    institution = session.get(Institution, institution_id) if is_db_id(institution_id) else None
    if institution is None or not institution.active:
        raise InvalidInput(
            "unknown institution", {"to_institution": [gettext("Institución desconocida.")]}
        )
    return institution


def _survivor_is_minor(cipher: FieldCipher, case: Case) -> bool:
    birth = cipher.open_text(
        "survivors", case.survivor.id, "birth_date", case.survivor.birth_date_enc
    )
    return birth is not None and age_on(date.fromisoformat(birth), local_today()) < 18


def refer_case(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    data: dict[str, Any],
) -> Referral:
    """Send her case to another institution. The gate is her recorded consent to share
    plus this referral's own confirmation; a minor's mandatory report goes without."""
    charge_write(caller.id, "referral")
    case = case_access.case_for(session, caller, case_id, need=case_policy.WHOLE).case
    receiver = _receiver(session, data["to_institution"])
    if receiver.id == caller.institution_id:
        raise InvalidInput(
            "same institution", {"to_institution": [gettext("Remita a otra institución.")]}
        )
    if data["service"] not in {service.code for service in receiver.services if service.active}:
        raise InvalidInput(
            "service not given",
            {"service": [gettext("La institución receptora no presta este servicio.")]},
        )
    if case_access.is_excluded(session, case.id, receiver.id):
        raise InvalidInput(
            "excluded",
            {
                "to_institution": [
                    gettext("La sobreviviente pidió que esta institución no vea su expediente.")
                ]
            },
        )
    cipher = cipher_for(ring, case.data_key)
    mandatory = _mandatory_report(session, ring, cipher, case, receiver, data)
    _check_consent(case, bool(data.get("consent")), mandatory)
    referral = Referral(
        id=uuid.uuid4(),
        case_id=case.id,
        from_institution_id=caller.institution_id,
        to_institution_id=receiver.id,
        service=data["service"],
        urgency=data["urgency"],
        due_on=due_date(data["urgency"], local_today()),
        consent=bool(data.get("consent")) and case.consent_network,
        mandatory_report=mandatory and not (data.get("consent") and case.consent_network),
        tracked_by_sender=not has_case_workers(session, receiver.id),
        created_by_user_id=caller.id,
        status="sent",
        dependant_id=data.get("dependant_id"),
    )
    referral.reason_enc = cipher.seal(
        "referrals", referral.id, "reason", data.get("reason") or None
    )
    session.add(referral)
    session.flush()
    log_event(session, referral, caller, "send", None, "sent", None)
    notify_institution(session, receiver.id, "referral_new", case_id=case.id, reference=case.number)
    case.updated_at = utcnow()
    audit(
        session,
        ring.audit_key,
        caller,
        "referral_create",
        object_type="referral",
        object_id=referral.id,
        case_id=case.id,
        detail=f"to={receiver.code};service={referral.service};urgency={referral.urgency}",
    )
    return referral


def _mandatory_report(
    session: DbSession,
    ring: KeyRing,
    cipher: FieldCipher,
    case: Case,
    receiver: Institution,
    data: dict[str, Any],
) -> bool:
    """A minor survivor's referral to PNC, prosecutor or child protection; for one of
    her children, a child who witnessed or suffered violence referred to child
    protection, the police or the prosecutor. Either goes without waiting on consent."""
    if data.get("dependant_id") is None:
        return case_policy.may_refer_without_consent(
            receiver.kind, _survivor_is_minor(cipher, case)
        )
    _row, exposed = dependants.dependant_for_referral(session, ring, case, data["dependant_id"])
    return case_policy.may_refer_dependant_without_consent(receiver.kind, data["service"], exposed)


def _check_consent(case: Case, confirmed: bool, mandatory: bool) -> None:
    if mandatory:
        return
    if not case.consent_network:
        raise InvalidInput(
            "consent not recorded",
            {
                "consent": [
                    gettext(
                        "La sobreviviente no ha dado (o retiró) su consentimiento para compartir "
                        "su expediente con la red. Regístrelo primero en el expediente."
                    )
                ]
            },
        )
    if not confirmed:
        raise InvalidInput(
            "consent required",
            {
                "consent": [
                    gettext("Confirme que la sobreviviente está de acuerdo con esta remisión.")
                ]
            },
        )


def log_event(
    session: DbSession,
    referral: Referral,
    user: Caller,
    action: str,
    before: str | None,
    after: str,
    note_enc: bytes | None,
) -> None:
    session.add(
        ReferralEvent(
            referral_id=referral.id,
            action=action,
            from_status=before,
            to_status=after,
            user_id=user.id,
            institution_id=user.institution_id,
            note_enc=note_enc,
        )
    )


def read_case(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    department: str,
) -> tuple[Case, dict[str, Any], str]:
    """The case record as the caller may see it (`cases.service.read_case`, audited), with
    the referrals that view shows: all of them for the whole record, the ones it sent for
    its own parts, none in the metadata view."""
    read = cases.read_case(
        session, ring, caller, case_id, department, others={"referrals": Referral}
    )
    case, record, view = read.case, read.record, read.view
    if view in (case_policy.METADATA, case_policy.PURGED):
        return case, record, view
    rows = referrals_of_case(session, case.id) if "referrals" in read.others_present else []
    if view == case_policy.OWN_PARTS:
        rows = [row for row in rows if row.from_institution_id == caller.institution_id]
    return case, with_referrals(record, cipher_for(ring, case.data_key), rows), view


def change_case_status(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    data: dict[str, Any],
) -> care.StatusChanged:
    """`care.change_status`, and on closing the referrals still live among what it
    leaves open (the caller sees the whole record: the status needs it)."""
    changed = care.change_status(session, ring, caller, case_id, data)
    if changed.still_open is None:
        return changed
    live = [
        {
            "id": str(row.id),
            "from_institution": row.from_institution.code,
            "to_institution": row.to_institution.code,
            "service": row.service,
            "status": row.status,
            "due_on": row.due_on.isoformat(),
        }
        for row in referrals_of_case(session, changed.case.id)
        if row.status in LIVE
    ]
    return replace(changed, still_open={"referrals": live, **changed.still_open})


def read_referral(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    referral_id: uuid.UUID | None,
    *,
    text_only: bool = False,
) -> dict[str, Any]:
    """The referral as this side may read it, audited before it is answered. With
    `text_only` (the referral's page) a former party gets 404, as for the sheet: its
    inbox row already shows all it may see, codes and dates."""
    found = referral_for(session, caller, referral_id)
    if text_only and not found.reads_text:
        raise NotFound("referral not found")
    record = present_referral(ring, found)
    shown = contact_on_referral(session, ring, caller, found)
    record.update(shown)
    parts = "".join(f"+{part}" for part in shown_parts(shown))
    audit(
        session,
        ring.audit_key,
        caller,
        "referral_view",
        object_type="referral",
        object_id=found.referral.id,
        case_id=found.case.id,
        detail=("text" if found.reads_text else "codes") + parts,
    )
    return record


def contact_on_referral(
    session: DbSession, ring: KeyRing, caller: Caller, found: ReferralAccess
) -> dict[str, Any]:
    """Her contact rules and access needs as this side of the referral may read them."""
    if not found.reads_text:
        return contact_for_reader(WITHHELD, None, False, found.sides)
    behind = case_access.cases_behind_referrals(session, caller, [found.case.id]).get(found.case.id)
    cipher = cipher_for(ring, found.case.data_key)
    return contact_for_reader(cipher, behind, found.reads_text, found.sides)


def overdue_clause(today: date) -> Any:
    return and_(Referral.status.in_(LIVE), Referral.due_on < today)


def count_overdue(session: DbSession) -> int:
    """The network's overdue referrals, for the supervisors' board."""
    stmt = select(func.count()).select_from(Referral).where(overdue_clause(local_today()))
    return int(session.execute(stmt).scalar_one())


def list_referrals(
    session: DbSession,
    user: case_access.Subject,
    box: str,
    status: str | None = None,
    overdue_only: bool = False,
    limit: int = 200,
) -> list[tuple[Referral, str]]:
    """The institution's incoming or outgoing referrals, with the case number: codes and
    dates only, nothing decrypted."""
    if not case_access.works_on_cases(user):
        raise Forbidden("this role does not work on referrals")
    column = Referral.to_institution_id if box == "incoming" else Referral.from_institution_id
    stmt = (
        select(Referral)
        .where(column == user.institution_id)
        .order_by(Referral.due_on, Referral.created_at)
        .limit(limit)
    )
    if status:
        stmt = stmt.where(Referral.status == status)
    if overdue_only:
        stmt = stmt.where(overdue_clause(local_today()))
    rows = list(session.execute(stmt).scalars())
    numbers = case_access.case_numbers(session, {row.case_id for row in rows})
    return [(row, numbers[row.case_id]) for row in rows]


def inbox_counts(session: DbSession, user: case_access.Subject) -> dict[str, int]:
    """What needs action, counted in the database."""
    today = local_today()
    mine_in = Referral.to_institution_id == user.institution_id
    mine_out = Referral.from_institution_id == user.institution_id
    stmt = select(
        func.count().filter(mine_in, Referral.status == "sent"),
        func.count().filter(mine_in, Referral.status.in_(("accepted", "in_progress"))),
        func.count().filter(mine_in, overdue_clause(today)),
        func.count().filter(mine_out, overdue_clause(today)),
    ).where(or_(mine_in, mine_out))
    to_answer, in_hand, overdue_in, overdue_out = session.execute(stmt).one()
    return {
        "to_answer": to_answer,
        "in_progress": in_hand,
        "overdue_incoming": overdue_in,
        "overdue_outgoing": overdue_out,
    }


def flag_overdue(session: DbSession, today: date | None = None) -> int:
    """Notify both sides (and the supervisors) once of each newly overdue referral."""
    today = today or local_today()
    stmt = select(Referral).where(overdue_clause(today), Referral.overdue_notified_at.is_(None))
    referrals = list(session.execute(stmt).scalars())
    numbers = case_access.case_numbers(session, {row.case_id for row in referrals})
    count = 0
    for referral in referrals:
        number = numbers[referral.case_id]
        for institution_id in {referral.from_institution_id, referral.to_institution_id}:
            notify_institution(
                session,
                institution_id,
                "referral_overdue",
                case_id=referral.case_id,
                reference=number,
            )
        notify_supervisors(session, "referral_overdue", case_id=referral.case_id, reference=number)
        referral.overdue_notified_at = utcnow()
        count += 1
    session.flush()
    return count


def survivor_is_minor(cipher: FieldCipher, case: Case) -> bool:
    """Whether she is under 18 today (a mandatory report), for the other workflows."""
    return _survivor_is_minor(cipher, case)
