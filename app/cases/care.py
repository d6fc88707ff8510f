"""What institutions add to a case after intake: care notes, follow-ups, risk,
safety plan and the case's status. Every function loads the case through
`access.case_for`, seals free text with the case's data key and audits itself."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from sqlalchemy import select

from app.audit.service import audit_change
from app.auth.caller import Caller
from app.cases import access, policy
from app.cases.care_models import CareNote, CaseStatusChange, FollowUp, RiskAssessment, SafetyPlan
from app.cases.models import Case
from app.cases.risk import RiskResult, assess
from app.core.db import DbSession
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.time import local_today, utcnow
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for
from app.notifications.service import notify_institution, notify_supervisors

NOTE_KINDS = ("medical", "forensic", "psychological", "legal", "social", "shelter")
CHANNELS = ("visit", "phone", "office")
FOLLOW_UP_OUTCOMES = ("done", "no_contact", "rescheduled", "cancelled")
CLOSE_REASONS = (
    "services_completed",
    "survivor_request",
    "lost_contact",
    "moved",
    "deceased",
    "other",
)
STATUS_MOVES = {
    ("open", "follow_up"),
    ("open", "closed"),
    ("follow_up", "closed"),
    ("follow_up", "open"),
    ("closed", "open"),
}


def _check_version(case: Case, expected: int | None) -> None:
    if expected is not None and expected != case.version:
        raise Conflict("the case changed since it was read; reload it")


def add_note(
    session: DbSession, ring: KeyRing, user: Caller, case_id: uuid.UUID | None, data: dict[str, Any]
) -> CareNote:
    case = access.case_for(session, user, case_id).case
    if data["given_on"] > local_today():
        raise InvalidInput("future date", {"given_on": ["La fecha no puede ser futura."]})
    note = CareNote(
        id=uuid.uuid4(),
        case_id=case.id,
        institution_id=user.institution_id,
        user_id=user.id,
        kind=data["kind"],
        given_on=data["given_on"],
        confidential=bool(data.get("confidential")),
    )
    note.note_enc = cipher_for(ring, case.data_key).seal(
        "care_notes", note.id, "note", data.get("text") or None
    )
    session.add(note)
    case.updated_at = utcnow()
    session.flush()
    audit_change(session, ring.audit_key, user, case.id, "care_note", note.id, f"note:{note.kind}")
    return note


def add_follow_up(
    session: DbSession, ring: KeyRing, user: Caller, case_id: uuid.UUID | None, data: dict[str, Any]
) -> FollowUp:
    case = access.case_for(session, user, case_id).case
    follow_up = FollowUp(
        id=uuid.uuid4(),
        case_id=case.id,
        institution_id=user.institution_id,
        created_by_user_id=user.id,
        due_on=data["due_on"],
        channel=data["channel"],
    )
    session.add(follow_up)
    if case.status == "open":
        _set_status(session, user, case, "follow_up", None)
    case.updated_at = utcnow()
    session.flush()
    audit_change(
        session, ring.audit_key, user, case.id, "follow_up", follow_up.id, "follow_up_planned"
    )
    return follow_up


def record_follow_up(
    session: DbSession,
    ring: KeyRing,
    user: Caller,
    case_id: uuid.UUID | None,
    follow_up_id: uuid.UUID | None,
    data: dict[str, Any],
) -> FollowUp:
    found = access.case_for(session, user, case_id)
    case = found.case
    follow_up = session.get(FollowUp, follow_up_id) if follow_up_id else None
    if (
        follow_up is None
        or follow_up.case_id != case.id
        or not policy.sees_part(found.view, user.institution_id, follow_up.institution_id)
    ):
        raise NotFound("follow-up not found")
    if data.get("version") is not None and data["version"] != follow_up.version:
        raise Conflict("the follow-up changed since it was read")
    follow_up.outcome = data["outcome"]
    follow_up.done_on = data.get("done_on") or local_today()
    follow_up.outcome_note_enc = cipher_for(ring, case.data_key).seal(
        "follow_ups", follow_up.id, "outcome_note", data.get("note") or None
    )
    case.updated_at = utcnow()
    session.flush()
    audit_change(
        session,
        ring.audit_key,
        user,
        case.id,
        "follow_up",
        follow_up.id,
        f"follow_up:{follow_up.outcome}",
    )
    return follow_up


def overdue_follow_ups(
    session: DbSession, user: access.Subject, today: date | None = None
) -> list[tuple[FollowUp, str]]:
    """The institution's follow-ups past their date and not done, oldest first."""
    return access.overdue_follow_ups(session, user, today or local_today())


def _has_feminicidal_or_firearm(session: DbSession, case: Case) -> tuple[bool, bool]:
    from app.cases.models import Incident

    rows = session.execute(
        select(Incident.violence_codes, Incident.weapon).where(Incident.case_id == case.id)
    ).all()
    feminicidal = any("feminicidal" in codes.split() for codes, _ in rows)
    firearm = any(weapon == "firearm" for _, weapon in rows)
    return feminicidal, firearm


def assess_risk(
    session: DbSession, ring: KeyRing, user: Caller, case_id: uuid.UUID | None, data: dict[str, Any]
) -> tuple[RiskAssessment, RiskResult]:
    case = access.case_for(session, user, case_id).case
    judgement = bool(data.get("judgement_high"))
    if judgement and not (data.get("judgement_reason") or "").strip():
        raise InvalidInput(
            "reason required", {"judgement_reason": ["Explique el criterio profesional."]}
        )
    feminicidal, firearm = _has_feminicidal_or_firearm(session, case)
    result = assess(
        data["answers"], feminicidal=feminicidal, firearm=firearm, judgement_high=judgement
    )
    cipher = cipher_for(ring, case.data_key)
    row = RiskAssessment(
        id=uuid.uuid4(),
        case_id=case.id,
        institution_id=user.institution_id,
        user_id=user.id,
        score=result.score,
        level=result.level,
        judgement_high=judgement,
    )
    row.answers_enc = (
        cipher.seal(
            "risk_assessments", row.id, "answers", json.dumps(data["answers"], sort_keys=True)
        )
        or b""
    )
    row.judgement_reason_enc = cipher.seal(
        "risk_assessments", row.id, "judgement_reason", data.get("judgement_reason") or None
    )
    session.add(row)
    case.risk_level = result.level
    case.updated_at = utcnow()
    if result.level == "high":
        _alert_high_risk(session, user, case)
    session.flush()
    audit_change(
        session, ring.audit_key, user, case.id, "risk_assessment", row.id, f"risk:{row.level}"
    )
    return row, result


def _alert_high_risk(session: DbSession, user: Caller, case: Case) -> None:
    """The women's offices taking part and every supervisor hear of a high risk at once."""
    for institution_id in access.live_party_institutions(session, case.id, "womens_office"):
        notify_institution(
            session, institution_id, "high_risk", case_id=case.id, reference=case.number
        )
    notify_supervisors(
        session, "high_risk", case_id=case.id, reference=case.number, except_user_id=user.id
    )


def save_safety_plan(
    session: DbSession, ring: KeyRing, user: Caller, case_id: uuid.UUID | None, data: dict[str, Any]
) -> SafetyPlan:
    case = access.case_for(session, user, case_id, need=policy.WHOLE).case
    cipher = cipher_for(ring, case.data_key)
    plan = session.execute(
        select(SafetyPlan).where(SafetyPlan.case_id == case.id)
    ).scalar_one_or_none()
    if plan is None:
        plan = SafetyPlan(
            id=uuid.uuid4(),
            case_id=case.id,
            updated_by_user_id=user.id,
            institution_id=user.institution_id,
            plan_enc=b"",
        )
        session.add(plan)
    elif data.get("version") is not None and data["version"] != plan.version:
        raise Conflict("the safety plan changed since it was read; reload it")
    plan.plan_enc = cipher.seal("safety_plans", plan.id, "plan", data["plan"]) or b""
    plan.updated_by_user_id = user.id
    plan.institution_id = user.institution_id
    case.updated_at = utcnow()
    session.flush()
    audit_change(session, ring.audit_key, user, case.id, "safety_plan", plan.id, "safety_plan")
    return plan


def _set_status(
    session: DbSession, user: Caller, case: Case, target: str, reason: str | None
) -> None:
    session.add(
        CaseStatusChange(
            case_id=case.id,
            from_status=case.status,
            to_status=target,
            reason=reason,
            user_id=user.id,
            institution_id=user.institution_id,
        )
    )
    case.status = target


def change_status(
    session: DbSession, ring: KeyRing, user: Caller, case_id: uuid.UUID | None, data: dict[str, Any]
) -> Case:
    """open → follow_up → closed; closing needs a reason; reopening is allowed."""
    case = access.case_for(session, user, case_id, need=policy.WHOLE).case
    _check_version(case, data.get("version"))
    target = data["status"]
    if (case.status, target) not in STATUS_MOVES:
        raise Conflict(f"a case that is {case.status} cannot become {target}")
    reason = data.get("reason")
    if target == "closed" and reason not in CLOSE_REASONS:
        raise InvalidInput("reason required", {"reason": ["Indique por qué se cierra el caso."]})
    _set_status(session, user, case, target, reason if target == "closed" else None)
    case.close_reason = reason if target == "closed" else None
    case.updated_at = utcnow()
    session.flush()
    audit_change(session, ring.audit_key, user, case.id, "case", case.id, f"status:{case.status}")
    return case
