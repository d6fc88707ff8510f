"""The justice pathway of a denuncia: its moves (received → … → sentenced | dismissed),
the FGR's and the court's file numbers, its hearings, and her choice to read the date
of her next hearing in her status lookup. The rules are in `justice_policy.py`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from app.audit.service import audit_change
from app.auth.caller import Caller
from app.cases import access, policy
from app.cases import justice_policy as rules
from app.cases.corrections import check_version
from app.cases.justice_models import ComplaintMove, Hearing, HearingNotice
from app.cases.legal_models import Complaint
from app.core.db import DbSession
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.time import LOCAL_TZ, local_today, utcnow
from app.crypto.keyring import KeyRing
from app.directory.models import Institution


class ConciliationProhibited(InvalidInput):
    """Conciliation or mediation asked for in a case of violence against women."""

    code = "conciliation_prohibited"

    def __init__(self) -> None:
        message = gettext(rules.PROHIBITED_MESSAGE)
        super().__init__(message, {"action": [message]})


@dataclass(frozen=True)
class _Found:
    case_id: uuid.UUID
    complaint: Complaint


def _complaint_for(
    session: DbSession, caller: Caller, case_id: uuid.UUID | None, complaint_id: uuid.UUID | None
) -> _Found:
    """A complaint of a case the caller's institution is a party to, and whose complaint
    part her view shows; NotFound for anyone else."""
    found = access.case_for(session, caller, case_id)
    complaint = session.get(Complaint, complaint_id) if complaint_id else None
    if (
        complaint is None
        or complaint.case_id != found.case.id
        or not policy.sees_part(found.view, caller.institution_id, complaint.institution_id)
    ):
        raise NotFound("complaint not found")
    found.case.updated_at = utcnow()
    return _Found(found.case.id, complaint)


def _moved_on(data: dict[str, Any], complaint: Complaint) -> date:
    moved_on = data.get("moved_on") or local_today()
    if moved_on > local_today():
        raise InvalidInput("future date", {"moved_on": [gettext("La fecha no puede ser futura.")]})
    if moved_on < complaint.filed_on:
        message = gettext("La fecha es anterior a la denuncia.")
        raise InvalidInput("before the complaint", {"moved_on": [message]})
    return moved_on


def _record_move(
    session: DbSession, caller: Caller, complaint: Complaint, action: str, to: str, on: date
) -> None:
    session.add(
        ComplaintMove(
            complaint_id=complaint.id,
            case_id=complaint.case_id,
            action=action,
            from_status=complaint.status,
            to_status=to,
            moved_on=on,
            user_id=caller.id,
            institution_id=caller.institution_id,
        )
    )
    complaint.status = to


def transition_complaint(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    complaint_id: uuid.UUID | None,
    data: dict[str, Any],
) -> Complaint:
    """One move along the pathway, by the role that makes it, from the status it starts
    at, with the complaint's version as read; kept in its history and audited."""
    action = data["action"]
    if rules.is_prohibited(action):
        raise ConciliationProhibited()
    if not rules.may_make(action, caller.role):
        raise Forbidden("this role does not make this move")
    found = _complaint_for(session, caller, case_id, complaint_id)
    complaint = found.complaint
    check_version(complaint.version, data["version"])
    if not rules.allowed_from(action, complaint.status):
        raise Conflict(gettext("Este paso no corresponde al estado actual de la denuncia."))
    _record_move(
        session,
        caller,
        complaint,
        action,
        rules.MOVES[action].to_status,
        _moved_on(data, complaint),
    )
    session.flush()
    audit_change(
        session, ring.audit_key, caller, found.case_id, "complaint", complaint.id, f"move:{action}"
    )
    return complaint


def set_file_numbers(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    complaint_id: uuid.UUID | None,
    data: dict[str, Any],
) -> Complaint:
    """The FGR's file number (prosecutor staff) or the court's (court staff), sealed."""
    given = {f: data[f].strip() for f in rules.NUMBER_ROLES if data.get(f) is not None}
    if any(not rules.may_set_number(f, caller.role) for f in given):
        raise Forbidden("this role does not set this file number")
    if not given or not all(given.values()):
        raise InvalidInput("no number", {"_schema": [gettext("Indique el número de expediente.")]})
    found = _complaint_for(session, caller, case_id, complaint_id)
    complaint = found.complaint
    check_version(complaint.version, data["version"])
    cipher = access.cipher_of_loaded_case(ring, session, found.case_id)
    for field, value in given.items():
        setattr(complaint, f"{field}_enc", cipher.seal("complaints", complaint.id, field, value))
    session.flush()
    detail = f"file_number:{','.join(sorted(given))}"
    audit_change(session, ring.audit_key, caller, found.case_id, "complaint", complaint.id, detail)
    return complaint


def _court(session: DbSession, court_id: int) -> Institution:
    court = session.get(Institution, court_id)
    if court is None or court.kind != "court":
        raise InvalidInput("not a court", {"court_id": [gettext("Elija un juzgado de la red.")]})
    return court


def _as_utc(moment: datetime) -> datetime:
    """A time typed without a zone is El Salvador's."""
    local = moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)
    return local.astimezone(UTC)


def schedule_hearing(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    complaint_id: uuid.UUID | None,
    data: dict[str, Any],
) -> Hearing:
    """A hearing of the complaint (prosecutor or court staff), once the requerimiento is
    filed; the first one moves the complaint into its hearings."""
    if not rules.may_schedule(caller.role):
        raise Forbidden("only prosecutor and court staff schedule hearings")
    found = _complaint_for(session, caller, case_id, complaint_id)
    complaint = found.complaint
    if data.get("version") is not None:
        check_version(complaint.version, data["version"])
    if not rules.schedulable(complaint.status):
        raise Conflict(gettext("La denuncia aún no tiene requerimiento fiscal, o ya terminó."))
    court = _court(session, data["court_id"])
    after = rules.status_after_hearing(complaint.status)
    if after != complaint.status:
        _record_move(session, caller, complaint, rules.SCHEDULE_HEARING, after, local_today())
    hearing = Hearing(
        id=uuid.uuid4(),
        complaint_id=complaint.id,
        case_id=found.case_id,
        starts_at=_as_utc(data["starts_at"]),
        court_id=court.id,
        kind=data["kind"],
        institution_id=caller.institution_id,
        user_id=caller.id,
    )
    session.add(hearing)
    session.flush()
    detail = f"hearing:{hearing.kind}"
    audit_change(session, ring.audit_key, caller, found.case_id, "hearing", hearing.id, detail)
    return hearing


def record_hearing_outcome(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    hearing_id: uuid.UUID | None,
    data: dict[str, Any],
) -> Hearing:
    """Held, postponed or suspended, with a sealed note (prosecutor or court staff)."""
    if not rules.may_schedule(caller.role):
        raise Forbidden("only prosecutor and court staff record hearings")
    hearing = session.get(Hearing, hearing_id) if hearing_id else None
    if hearing is None:
        raise NotFound("hearing not found")
    found = _complaint_for(session, caller, case_id, hearing.complaint_id)
    if hearing.case_id != found.case_id:
        raise NotFound("hearing not found")
    check_version(hearing.version, data["version"])
    hearing.outcome = data["outcome"]
    if data.get("note"):
        cipher = access.cipher_of_loaded_case(ring, session, found.case_id)
        hearing.note_enc = cipher.seal("hearings", hearing.id, "note", data["note"])
    session.flush()
    detail = f"hearing_outcome:{hearing.outcome}"
    audit_change(session, ring.audit_key, caller, found.case_id, "hearing", hearing.id, detail)
    return hearing


def record_hearing_notice(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    data: dict[str, Any],
) -> HearingNotice:
    """Her choice, told at this desk, to read (or no longer read) her next hearing's date
    and time in her status lookup; a new row each time, the newest in force."""
    case = access.case_for(session, caller, case_id, closed_ok=True).case
    notice = HearingNotice(
        case_id=case.id,
        show_hearings_in_status=bool(data["show_hearings_in_status"]),
        given_by=data.get("given_by") or "survivor",
        recorded_by_user_id=caller.id,
        recorded_by_institution_id=caller.institution_id,
    )
    session.add(notice)
    case.updated_at = utcnow()
    session.flush()
    detail = f"hearing_notice:{'on' if notice.show_hearings_in_status else 'off'}"
    audit_change(session, ring.audit_key, caller, case.id, "hearing_notice", notice.id, detail)
    return notice


def court_choices(session: DbSession) -> list[tuple[int, str]]:
    """The network's courts, for the hearing form (the directory is public to users)."""
    stmt = select(Institution.id, Institution.name).where(Institution.kind == "court")
    return [(row[0], row[1]) for row in session.execute(stmt.order_by(Institution.name)).all()]
