"""Referrals between the institutions of the network: send, answer, track to the end.

Statuses (CONTRACT.md): sent → accepted → in_progress → completed; sent → declined;
sent|accepted|in_progress → cancelled. The receiver moves it forward, the sender
cancels; for a receiver with no users in Ruta the sender records what happened.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload

from app.auth.models import Institution, User
from app.auth.policy import may_work_on_cases
from app.cases.models import Case, CaseParty
from app.cases.service import add_party, get_case_for
from app.cases.vocab import age_on
from app.common import Conflict, DbSession, Forbidden, InvalidInput, NotFound, local_today, utcnow
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for
from app.notifications.service import notify_institution, notify_user
from app.referrals.models import Referral, ReferralEvent

URGENCY_DAYS = {"immediate": 0, "priority": 3, "routine": 10}
LIVE = ("sent", "accepted", "in_progress")
# action -> (side that may take it, statuses it starts from, status it leads to)
MOVES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "accept": ("receiver", ("sent",), "accepted"),
    "decline": ("receiver", ("sent",), "declined"),
    "start": ("receiver", ("accepted",), "in_progress"),
    "complete": ("receiver", ("in_progress",), "completed"),
    "cancel": ("sender", LIVE, "cancelled"),
}
NOTE_REQUIRED = {
    "decline": "Indique por qué se rechaza la remisión.",
    "complete": "Registre lo que se hizo (la contrarreferencia).",
}
# Mandatory reports of violence against a minor go to the police or the prosecutor.
MANDATORY_REPORT_KINDS = frozenset({"pnc_family_unit", "prosecutor"})


def due_date(urgency: str, sent_on: date) -> date:
    return sent_on + timedelta(days=URGENCY_DAYS[urgency])


def _receiver(session: DbSession, institution_id: int) -> Institution:
    institution = session.get(Institution, institution_id)
    if institution is None or not institution.active:
        raise InvalidInput("unknown institution", {"to_institution": ["Institución desconocida."]})
    return institution


def _has_users(session: DbSession, institution_id: int) -> bool:
    stmt = select(User.id).where(User.institution_id == institution_id, User.active.is_(True))
    return session.execute(stmt.limit(1)).first() is not None


def _survivor_is_minor(cipher: FieldCipher, case: Case) -> bool:
    birth = cipher.open_text(
        "survivors", case.survivor.id, "birth_date", case.survivor.birth_date_enc
    )
    return birth is not None and age_on(date.fromisoformat(birth), local_today()) < 18


def refer_case(
    session: DbSession, ring: KeyRing, user: User, case_id: uuid.UUID | None, data: dict[str, Any]
) -> Referral:
    case = get_case_for(session, user, case_id)
    receiver = _receiver(session, data["to_institution"])
    if receiver.id == user.institution_id:
        raise InvalidInput("same institution", {"to_institution": ["Remita a otra institución."]})
    if data["service"] not in {service.code for service in receiver.services}:
        raise InvalidInput(
            "service not given",
            {"service": ["La institución receptora no presta este servicio."]},
        )
    cipher = cipher_for(ring, case.data_key)
    mandatory = (
        not data.get("consent")
        and receiver.kind in MANDATORY_REPORT_KINDS
        and _survivor_is_minor(cipher, case)
    )
    if not data.get("consent") and not mandatory:
        raise InvalidInput(
            "consent required",
            {"consent": ["Se necesita el consentimiento de la sobreviviente para remitirla."]},
        )
    referral = Referral(
        id=uuid.uuid4(),
        case_id=case.id,
        from_institution_id=user.institution_id,
        to_institution_id=receiver.id,
        service=data["service"],
        urgency=data["urgency"],
        due_on=due_date(data["urgency"], local_today()),
        consent=bool(data.get("consent")),
        mandatory_report=mandatory,
        tracked_by_sender=not _has_users(session, receiver.id),
        created_by_user_id=user.id,
        status="sent",
    )
    referral.reason_enc = cipher.seal(
        "referrals", referral.id, "reason", data.get("reason") or None
    )
    session.add(referral)
    session.flush()
    add_party(session, case, receiver.id, "referral", user, referral_id=referral.id)
    _log(session, referral, user, "send", None, "sent", None)
    notify_institution(session, receiver.id, "referral_new", case_id=case.id, reference=case.number)
    case.updated_at = utcnow()
    return referral


def _log(
    session: DbSession,
    referral: Referral,
    user: User,
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


def get_referral_for(session: DbSession, user: User, referral_id: uuid.UUID | None) -> Referral:
    """A referral the user's institution sent or received; 404 for anyone else."""
    if not may_work_on_cases(user):
        raise Forbidden("this role does not work on referrals")
    stmt = (
        select(Referral)
        .options(joinedload(Referral.from_institution), joinedload(Referral.to_institution))
        .where(
            Referral.id == referral_id,
            or_(
                Referral.from_institution_id == user.institution_id,
                Referral.to_institution_id == user.institution_id,
            ),
        )
    )
    referral = session.execute(stmt).scalar_one_or_none() if referral_id else None
    if referral is None:
        raise NotFound("referral not found")
    return referral


def side_of(user: User, referral: Referral) -> set[str]:
    sides = set()
    if referral.to_institution_id == user.institution_id:
        sides.add("receiver")
    if referral.from_institution_id == user.institution_id:
        sides.add("sender")
        if referral.tracked_by_sender:
            sides.add("receiver")  # the receiver has no users: the sender records for it
    return sides


@dataclass(frozen=True)
class Move:
    action: str
    note: str | None = None
    expected_version: int | None = None


def move_referral(
    session: DbSession, ring: KeyRing, user: User, referral_id: uuid.UUID | None, move: Move
) -> Referral:
    referral = get_referral_for(session, user, referral_id)
    if move.action not in MOVES:
        raise InvalidInput("unknown action", {"action": [f"Una de: {', '.join(MOVES)}."]})
    side, sources, target = MOVES[move.action]
    if side not in side_of(user, referral):
        raise Forbidden(f"only the {side} may {move.action} this referral")
    if move.expected_version is not None and move.expected_version != referral.version:
        raise Conflict("the referral changed since it was read")
    if referral.status not in sources:
        raise Conflict(f"cannot {move.action} a referral that is {referral.status}")
    note = (move.note or "").strip()
    if move.action in NOTE_REQUIRED and not note:
        raise InvalidInput("note required", {"note": [NOTE_REQUIRED[move.action]]})
    _apply(session, ring, user, referral, move.action, target, note)
    return referral


def _apply(
    session: DbSession,
    ring: KeyRing,
    user: User,
    referral: Referral,
    action: str,
    target: str,
    note: str,
) -> None:
    case = session.execute(
        select(Case).options(joinedload(Case.data_key)).where(Case.id == referral.case_id)
    ).scalar_one()
    cipher = cipher_for(ring, case.data_key)
    before = referral.status
    referral.status = target
    note_enc = cipher.seal("referral_events", referral.id, f"note:{action}", note or None)
    if action == "decline":
        referral.decline_reason_enc = cipher.seal("referrals", referral.id, "decline_reason", note)
    if action == "complete":
        referral.outcome_enc = cipher.seal("referrals", referral.id, "outcome", note)
    if target in ("completed", "declined", "cancelled"):
        referral.closed_at = utcnow()
    if target in ("declined", "cancelled"):
        end_referral_access(session, referral)
    _log(session, referral, user, action, before, target, note_enc)
    if action in ("accept", "decline", "complete"):
        notify_institution(
            session,
            referral.from_institution_id,
            "referral_answered",
            case_id=case.id,
            reference=case.number,
        )
    case.updated_at = utcnow()
    session.flush()


def end_referral_access(session: DbSession, referral: Referral) -> None:
    """A declined or cancelled referral gives the receiver no access."""
    for party in session.execute(
        select(CaseParty).where(CaseParty.referral_id == referral.id, CaseParty.ended_at.is_(None))
    ).scalars():
        party.ended_at = utcnow()


def overdue_clause(today: date) -> Any:
    return and_(Referral.status.in_(LIVE), Referral.due_on < today)


def list_referrals(
    session: DbSession,
    user: User,
    box: str,
    status: str | None = None,
    overdue_only: bool = False,
    limit: int = 200,
) -> list[tuple[Referral, str]]:
    """The institution's incoming or outgoing referrals, with the case number."""
    if not may_work_on_cases(user):
        raise Forbidden("this role does not work on referrals")
    column = Referral.to_institution_id if box == "incoming" else Referral.from_institution_id
    stmt = (
        select(Referral, Case.number)
        .join(Case, Case.id == Referral.case_id)
        .where(column == user.institution_id)
        .order_by(Referral.due_on, Referral.created_at)
        .limit(limit)
    )
    if status:
        stmt = stmt.where(Referral.status == status)
    if overdue_only:
        stmt = stmt.where(overdue_clause(local_today()))
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


def inbox_counts(session: DbSession, user: User) -> dict[str, int]:
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
    stmt = (
        select(Referral, Case.number)
        .join(Case, Case.id == Referral.case_id)
        .where(overdue_clause(today), Referral.overdue_notified_at.is_(None))
    )
    supervisors = select(User.id).where(User.role == "supervisor", User.active.is_(True))
    supervisor_ids = list(session.execute(supervisors).scalars())
    count = 0
    for referral, number in session.execute(stmt).all():
        for institution_id in {referral.from_institution_id, referral.to_institution_id}:
            notify_institution(
                session,
                institution_id,
                "referral_overdue",
                case_id=referral.case_id,
                reference=number,
            )
        for supervisor_id in supervisor_ids:
            notify_user(
                session,
                supervisor_id,
                "referral_overdue",
                case_id=referral.case_id,
                reference=number,
            )
        referral.overdue_notified_at = utcnow()
        count += 1
    session.flush()
    return count
