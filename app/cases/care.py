"""What institutions add to a case after intake: care notes, follow-ups, risk,
safety plan and the case's status. Every function loads the case through
`access.case_for`, seals free text with the case's data key and audits itself."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from app.audit.service import audit_change
from app.auth.caller import Caller
from app.auth.throttle_store import charge_write
from app.cases import access, policy
from app.cases.care_models import CareNote, CaseStatusChange, FollowUp, RiskAssessment, SafetyPlan
from app.cases.models import Case
from app.cases.risk import RiskResult, assess, lowers_from_high
from app.core.db import DbSession
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.i18n import N_
from app.core.time import local_today, utcnow
from app.crypto.cohorts import into_cohort, out_of_cohort
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
# Reopening takes one of these codes, or a text of its own (kept sealed, see
# `change_status`); `new_incident` is what a new incident on a closed case records.
REOPEN_REASONS = (
    "new_incident",
    "new_information",
    "survivor_request",
    "closed_in_error",
    "other",
)
NEW_INCIDENT = "new_incident"
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
    charge_write(user.id, "note")
    case = access.case_for(session, user, case_id).case
    if data["given_on"] > local_today():
        raise InvalidInput("future date", {"given_on": [gettext("La fecha no puede ser futura.")]})
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
    charge_write(user.id, "follow_up")
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
        _set_status(session, ring, user, case, "follow_up", None)
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


def _incident_flags(session: DbSession, case: Case) -> tuple[bool, bool, bool]:
    """(feminicidal, firearm, strangulation) on any of the case's incidents not voided."""
    from app.cases.models import Incident

    rows = session.execute(
        select(Incident.violence_codes, Incident.weapon, Incident.strangulation).where(
            Incident.case_id == case.id, Incident.voided_at.is_(None)
        )
    ).all()
    feminicidal = any("feminicidal" in codes.split() for codes, _, _ in rows)
    firearm = any(weapon == "firearm" for _, weapon, _ in rows)
    strangulation = any(bool(strangled) for _, _, strangled in rows)
    return feminicidal, firearm, strangulation


LOWERING_NEEDS_REASON = N_(
    "El riesgo de este caso es alto: explique por qué baja antes de guardar la valoración."
)


def assess_risk(
    session: DbSession, ring: KeyRing, user: Caller, case_id: uuid.UUID | None, data: dict[str, Any]
) -> tuple[RiskAssessment, RiskResult]:
    """Score all 24 answers, say why the level is what it is, and set the case's level.
    It never drops from high without a reason; a party that sees only its own parts
    (and so not the level) records its assessment but cannot lower a high case."""
    charge_write(user.id, "risk")
    found = access.case_for(session, user, case_id)
    case = found.case
    judgement = bool(data.get("judgement_high"))
    if judgement and not (data.get("judgement_reason") or "").strip():
        raise InvalidInput(
            "reason required", {"judgement_reason": [gettext("Explique el criterio profesional.")]}
        )
    feminicidal, firearm, strangulation = _incident_flags(session, case)
    result = assess(
        data["answers"],
        feminicidal=feminicidal,
        firearm=firearm,
        judgement_high=judgement,
        strangulation=strangulation,
    )
    lowering = lowers_from_high(case.risk_level, result.level)
    lowering_reason = (data.get("reason") or "").strip() or None
    if lowering and found.view == policy.FULL and lowering_reason is None:
        raise InvalidInput("reason required", {"reason": [gettext(LOWERING_NEEDS_REASON)]})
    row = _assessment_row(ring, user, case, data, result)
    if lowering and found.view == policy.FULL:
        row.lowering_reason_enc = cipher_for(ring, case.data_key).seal(
            "risk_assessments", row.id, "lowering_reason", lowering_reason
        )
    session.add(row)
    if not lowering or found.view == policy.FULL:
        case.risk_level = result.level
    case.updated_at = utcnow()
    if result.level == "high":
        _alert_high_risk(session, user, case)
    session.flush()
    detail = f"risk:{row.level};reasons={','.join(result.reasons)}"
    audit_change(session, ring.audit_key, user, case.id, "risk_assessment", row.id, detail)
    return row, result


def _assessment_row(
    ring: KeyRing, user: Caller, case: Case, data: dict[str, Any], result: RiskResult
) -> RiskAssessment:
    cipher = cipher_for(ring, case.data_key)
    row = RiskAssessment(
        id=uuid.uuid4(),
        case_id=case.id,
        institution_id=user.institution_id,
        user_id=user.id,
        score=result.score,
        level=result.level,
        reasons=" ".join(result.reasons),
        judgement_high=bool(data.get("judgement_high")),
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
    return row


def raise_risk_for_incident(
    session: DbSession, ring: KeyRing, user: Caller, case: Case, reasons: list[str]
) -> bool:
    """A feminicidal incident, a firearm or strangulation makes the case high now, not
    at the next assessment, and alerts as a high assessment does. True if it rose."""
    if not reasons or case.risk_level == "high":
        return False
    case.risk_level = "high"
    _alert_high_risk(session, user, case)
    audit_change(
        session,
        ring.audit_key,
        user,
        case.id,
        "case",
        case.id,
        f"risk:high;reasons={','.join(reasons)}",
    )
    return True


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
    session: DbSession, ring: KeyRing, user: Caller, case: Case, target: str, reason: str | None
) -> None:
    if target == policy.CLOSED:
        # Her data key goes under the key of this month's retention cohort, which only
        # the key file holds: destroying it reaches every backup (docs/retention.md).
        case.closed_at = utcnow()
        into_cohort(session, ring, case.data_key, case.closed_at.strftime("%Y-%m"))
    elif case.status == policy.CLOSED:
        case.closed_at = None
        out_of_cohort(ring, case.data_key)
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


@dataclass(frozen=True)
class StatusChanged:
    case: Case
    # On closing: what is still open (pending follow-ups, measures in force); the
    # referrals are added by the referrals package, which builds on this one.
    still_open: dict[str, list[dict[str, Any]]] | None = None


def change_status(
    session: DbSession, ring: KeyRing, user: Caller, case_id: uuid.UUID | None, data: dict[str, Any]
) -> StatusChanged:
    """open → follow_up → closed, and back. Closing needs a reason code and answers what
    it leaves open; reopening a closed case needs a reason, a code or a text of its own."""
    case = access.case_for(session, user, case_id, need=policy.WHOLE, closed_ok=True).case
    _check_version(case, data.get("version"))
    target = data["status"]
    if (case.status, target) not in STATUS_MOVES:
        raise Conflict(f"a case that is {case.status} cannot become {target}")
    reason = (data.get("reason") or "").strip() or None
    if target == "closed" and reason not in CLOSE_REASONS:
        raise InvalidInput(
            "reason required", {"reason": [gettext("Indique por qué se cierra el caso.")]}
        )
    reopening = case.status == "closed"
    if reopening and reason is None:
        raise InvalidInput(
            "reason required", {"reason": [gettext("Indique por qué se reabre el caso.")]}
        )
    code = reason if target == "closed" or reason in REOPEN_REASONS else None
    if reopening and code is None:
        code = "other"
        _keep_reopening_text(session, ring, user, case, reason or "")
    _set_status(
        session, ring, user, case, target, code if target == "closed" or reopening else None
    )
    case.close_reason = reason if target == "closed" else None
    case.updated_at = utcnow()
    session.flush()
    audit_change(session, ring.audit_key, user, case.id, "case", case.id, f"status:{case.status}")
    return StatusChanged(case, still_open(session, case) if target == "closed" else None)


def _keep_reopening_text(
    session: DbSession, ring: KeyRing, user: Caller, case: Case, text: str
) -> None:
    """A reason in her own words may name people: it is sealed, in the record's history
    of changes, not in the plain status row (which says `other`)."""
    from app.cases.corrections import record_correction

    record_correction(
        session,
        cipher_for(ring, case.data_key),
        user,
        case.id,
        ("case", str(case.id)),
        {"status": [case.status, "open"]},
        text,
    )


def still_open(session: DbSession, case: Case) -> dict[str, list[dict[str, Any]]]:
    """Pending follow-ups and measures in force: closing is allowed, but says so."""
    from app.cases.legal_models import ProtectionMeasure

    pending = session.execute(
        select(FollowUp)
        .where(FollowUp.case_id == case.id, FollowUp.done_on.is_(None))
        .order_by(FollowUp.due_on)
    ).scalars()
    active = session.execute(
        select(ProtectionMeasure)
        .where(ProtectionMeasure.case_id == case.id, ProtectionMeasure.status == "active")
        .order_by(ProtectionMeasure.ends_on)
    ).scalars()
    return {
        "follow_ups": [pending_follow_up(f) for f in pending],
        "measures": [active_measure(m) for m in active],
    }


def pending_follow_up(follow_up: FollowUp) -> dict[str, Any]:
    return {
        "id": str(follow_up.id),
        "due_on": follow_up.due_on.isoformat(),
        "channel": follow_up.channel,
        "institution": follow_up.institution.code,
    }


def active_measure(measure: Any) -> dict[str, Any]:
    return {
        "id": str(measure.id),
        "measure": measure.measure,
        "ends_on": measure.ends_on.isoformat() if measure.ends_on else None,
        "status": measure.status,
    }


def reopen_for_new_incident(session: DbSession, ring: KeyRing, user: Caller, case: Case) -> bool:
    """A new incident on a closed case reopens it (reason `new_incident`) and tells every
    live party and the supervisors. True if it was closed."""
    if policy.allows_writes(case.status):
        return False
    _set_status(session, ring, user, case, "open", NEW_INCIDENT)
    case.close_reason = None
    for institution_id in access.live_party_institutions(session, case.id):
        notify_institution(
            session, institution_id, "case_reopened", case_id=case.id, reference=case.number
        )
    notify_supervisors(
        session, "case_reopened", case_id=case.id, reference=case.number, except_user_id=user.id
    )
    audit_change(
        session, ring.audit_key, user, case.id, "case", case.id, f"status:open;{NEW_INCIDENT}"
    )
    return True
