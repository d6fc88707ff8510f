"""The decrypted parts of a case record after intake, and its timeline."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy.orm import object_session

from app.cases.access import cipher_of_loaded_case
from app.cases.care_models import Attachment, CareNote, FollowUp, RiskAssessment, SafetyPlan
from app.cases.legal_models import Complaint, ProtectionMeasure
from app.cases.models import Case
from app.crypto.envelope import FieldCipher
from app.crypto.service import get_keyring
from app.referrals.models import Referral


def iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value else None


def note_record(cipher: FieldCipher, note: CareNote, viewer_institution_id: int) -> dict[str, Any]:
    hidden = note.confidential and note.institution_id != viewer_institution_id
    return {
        "id": str(note.id),
        "kind": note.kind,
        "given_on": iso(note.given_on),
        "institution": note.institution.code,
        "confidential": note.confidential,
        # Other parties learn that a confidential note exists, never its text.
        "text": None if hidden else cipher.open_text("care_notes", note.id, "note", note.note_enc),
        "hidden": hidden,
    }


def follow_up_record(cipher: FieldCipher, follow_up: FollowUp) -> dict[str, Any]:
    return {
        "id": str(follow_up.id),
        "due_on": iso(follow_up.due_on),
        "channel": follow_up.channel,
        "institution": follow_up.institution.code,
        "outcome": follow_up.outcome,
        "done_on": iso(follow_up.done_on),
        "version": follow_up.version,
        "note": cipher.open_text(
            "follow_ups", follow_up.id, "outcome_note", follow_up.outcome_note_enc
        ),
    }


def risk_record(cipher: FieldCipher, risk: RiskAssessment) -> dict[str, Any]:
    answers = cipher.open_text("risk_assessments", risk.id, "answers", risk.answers_enc)
    return {
        "id": str(risk.id),
        "at": iso(risk.created_at),
        "institution": risk.institution.code,
        "score": risk.score,
        "level": risk.level,
        "judgement_high": risk.judgement_high,
        "judgement_reason": cipher.open_text(
            "risk_assessments", risk.id, "judgement_reason", risk.judgement_reason_enc
        ),
        "answers": json.loads(answers) if answers else {},
    }


def plan_record(cipher: FieldCipher, plan: SafetyPlan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    return {
        "plan": cipher.open_text("safety_plans", plan.id, "plan", plan.plan_enc),
        "updated_at": iso(plan.updated_at),
        "version": plan.version,
    }


def attachment_record(cipher: FieldCipher, attachment: Attachment) -> dict[str, Any]:
    return {
        "id": str(attachment.id),
        "content_type": attachment.content_type,
        "size": attachment.size,
        "institution": attachment.institution.code,
        "created_at": iso(attachment.created_at),
        "filename": cipher.open_text(
            "attachments", attachment.id, "filename", attachment.filename_enc
        ),
        "description": cipher.open_text(
            "attachments", attachment.id, "description", attachment.description_enc
        ),
    }


def measure_record(measure: ProtectionMeasure, cipher: FieldCipher | None = None) -> dict[str, Any]:
    cipher = cipher or _cipher_of(measure)
    return {
        "id": str(measure.id),
        "measure": measure.measure,
        "requested": measure.requested,
        "granted": measure.granted,
        "court": cipher.open_text("protection_measures", measure.id, "court", measure.court_enc),
        "starts_on": iso(measure.starts_on),
        "ends_on": iso(measure.ends_on),
        "status": measure.status,
        "version": measure.version,
    }


def complaint_record(complaint: Complaint, cipher: FieldCipher | None = None) -> dict[str, Any]:
    cipher = cipher or _cipher_of(complaint)
    return {
        "id": str(complaint.id),
        "number": cipher.open_text("complaints", complaint.id, "number", complaint.number_enc),
        "filed_on": iso(complaint.filed_on),
        "institution": complaint.institution.code,
        "status": complaint.status,
        "forward_to_prosecutor": complaint.forward_to_prosecutor,
        "incident_ids": [str(incident.id) for incident in complaint.incident_ids],
        "measures": [measure_record(m, cipher) for m in complaint.measures],
    }


def _cipher_of(row: Complaint | ProtectionMeasure) -> FieldCipher:
    """The cipher of the row's case, for a face that does not pass one: only after a
    service checked access to that case in this request (the identity map has it)."""
    session = object_session(row)
    if session is None:
        raise RuntimeError("the row is not attached to a session")
    return cipher_of_loaded_case(get_keyring(), session, row.case_id)


def referral_record(cipher: FieldCipher, referral: Referral) -> dict[str, Any]:
    def opened(field: str, blob: bytes | None) -> str | None:
        return cipher.open_text("referrals", referral.id, field, blob)

    return {
        "id": str(referral.id),
        "case_id": str(referral.case_id),
        "status": referral.status,
        "from_institution": referral.from_institution.code,
        "to_institution": referral.to_institution.code,
        "to_institution_id": referral.to_institution_id,
        "service": referral.service,
        "urgency": referral.urgency,
        "due_on": iso(referral.due_on),
        "consent": referral.consent,
        "mandatory_report": referral.mandatory_report,
        "tracked_by_sender": referral.tracked_by_sender,
        "reason": opened("reason", referral.reason_enc),
        "decline_reason": opened("decline_reason", referral.decline_reason_enc),
        "outcome": opened("outcome", referral.outcome_enc),
        "created_at": iso(referral.created_at),
        "version": referral.version,
    }


def _midday(value: date) -> datetime:
    return datetime.combine(value, time(12), tzinfo=UTC)


def timeline(case: Case) -> list[dict[str, Any]]:
    """Everything that happened to the case, oldest first, as codes (no free text)."""
    items: list[tuple[datetime, str, str | None, str | None]] = [
        (case.created_at, "case_opened", None, case.number),
    ]
    items += [
        (i.created_at, "incident", i.entry_institution.code, i.violence_codes)
        for i in case.incidents
    ]
    items += [(c.recorded_at, "consent", None, None) for c in case.consents]
    items += [(n.created_at, "care_note", n.institution.code, n.kind) for n in case.notes]
    items += [
        (f.created_at, "follow_up_planned", f.institution.code, f.channel) for f in case.follow_ups
    ]
    items += [
        (_midday(f.done_on), "follow_up_done", f.institution.code, f.outcome)
        for f in case.follow_ups
        if f.done_on
    ]
    items += [
        (r.created_at, "risk_assessment", r.institution.code, r.level)
        for r in case.risk_assessments
    ]
    items += [(c.created_at, "complaint", c.institution.code, c.status) for c in case.complaints]
    items += [
        (e.at, f"referral_{e.action}", e.institution.code, r.service)
        for r in case.referrals
        for e in r.events
    ]
    items += [(s.at, "status", s.institution.code, s.to_status) for s in case.status_changes]
    items += [
        (a.created_at, "attachment", a.institution.code, a.content_type) for a in case.attachments
    ]
    items.sort(key=lambda item: item[0])
    return [
        {"at": iso(at), "kind": kind, "institution": inst, "detail": detail}
        for at, kind, inst, detail in items
    ]


def care_parts(cipher: FieldCipher, case: Case, viewer_institution_id: int) -> dict[str, Any]:
    return {
        "notes": [note_record(cipher, n, viewer_institution_id) for n in case.notes],
        "follow_ups": [follow_up_record(cipher, f) for f in case.follow_ups],
        "risk_assessments": [risk_record(cipher, r) for r in case.risk_assessments],
        "safety_plan": plan_record(cipher, case.safety_plan),
        "attachments": [attachment_record(cipher, a) for a in case.attachments],
        "complaints": [complaint_record(c, cipher) for c in case.complaints],
        "referrals": [referral_record(cipher, r) for r in case.referrals],
        "timeline": timeline(case),
    }
