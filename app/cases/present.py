"""The decrypted view of a case for one view of it, built only after `access.case_for`
has decided that view. Shapes data; decides nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any, cast

from app.cases import access, contact_data, policy, rape_window
from app.cases.breach import pending_reassessment
from app.cases.care_models import Attachment, CareNote, FollowUp, RiskAssessment, SafetyPlan
from app.cases.legal_models import Complaint, ProtectionMeasure
from app.cases.models import Case, CaseParty, Consent, Incident, Survivor
from app.cases.record_models import Correction
from app.cases.risk import incident_reasons, reassessment_due
from app.core.db import DbSession
from app.core.time import LOCAL_TZ, local_today, utcnow
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for

SURVIVOR_SECRET_FIELDS = (
    "given_names",
    "family_names",
    "dui",
    "birth_date",
    "phone",
    "address",
    "safe_contact",
)


def iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value else None


def survivor_record(cipher: FieldCipher, survivor: Survivor) -> dict[str, Any]:
    record: dict[str, Any] = {
        field: cipher.open_text("survivors", survivor.id, field, getattr(survivor, f"{field}_enc"))
        for field in SURVIVOR_SECRET_FIELDS
    }
    record.update(
        id=str(survivor.id),
        sex=survivor.sex,
        municipality=survivor.municipality,
        disability=survivor.disability,
        version=survivor.version,  # for `PATCH …/survivor`
        **contact_parts(cipher, survivor, record.pop("safe_contact")),
    )
    return record


def contact_parts(cipher: FieldCipher, survivor: Survivor, free_text: str | None) -> dict[str, Any]:
    """Her protocol (with the free-text note kept from before it), its rules in reading
    order, and her access needs: for a view that reads her whole record."""
    protocol = contact_data.protocol_of(cipher, survivor)
    return {
        "safe_contact": {
            **protocol,
            "free_text": free_text,
            "hides_phone": contact_data.hides_phone(protocol),
        },
        "contact_rules": contact_data.contact_rules(protocol, free_text),
        "access_needs": needs_record(contact_data.needs_of(cipher, survivor)),
    }


def needs_record(needs: dict[str, Any]) -> dict[str, Any]:
    return {**needs, "summary": contact_data.needs_summary(needs)}


def contact_shown(
    cipher: FieldCipher, survivor: Survivor, view: str | None, live_receiver: bool
) -> dict[str, Any]:
    """Her contact rules and access needs for a referral's reader (`policy.sees_contact`,
    `policy.needs_view`): None where this reader may not see them."""
    shown: dict[str, Any] = {"contact_rules": None, "access_needs": None}
    if policy.sees_contact(view):
        free_text = cipher.open_text(
            "survivors", survivor.id, "safe_contact", survivor.safe_contact_enc
        )
        protocol = contact_data.protocol_of(cipher, survivor)
        shown["contact_rules"] = contact_data.contact_rules(protocol, free_text)
    part = policy.needs_view(view, live_receiver)
    if part is not None:
        needs = contact_data.needs_of(cipher, survivor)
        if part == policy.PREPARATION:
            needs = contact_data.preparation_only(needs)
        shown["access_needs"] = needs_record(needs)
    return shown


def incident_record(cipher: FieldCipher, incident: Incident) -> dict[str, Any]:
    return {
        "id": str(incident.id),
        "occurred_on": iso(incident.occurred_on),
        "reported_on": iso(incident.reported_on),
        "municipality": incident.municipality,
        "place_type": incident.place_type,
        "modality": incident.modality,
        "repeat_of": str(incident.repeat_of_id) if incident.repeat_of_id else None,
        "violence_types": incident.violence_types,
        "penetration": incident.penetration,
        "perpetrator_relationship": incident.perpetrator_relationship,
        "perpetrator_details": cipher.open_text(
            "incidents", incident.id, "perpetrator_details", incident.perpetrator_details_enc
        ),
        "weapon": incident.weapon,
        "strangulation": bool(incident.strangulation),
        "children_present": incident.children_present,
        "narrative": cipher.open_text(
            "incidents", incident.id, "narrative", incident.narrative_enc
        ),
        "gbvims_type": incident.gbvims_type,
        "context": incident.context,
        "entry_institution": incident.entry_institution.code,
        "version": incident.version,
        # Voided: kept and shown as "anulado", never counted.
        "voided": incident.voided_at is not None,
        "voided_at": iso(incident.voided_at),
        "void_reason": cipher.open_text(
            "incidents", incident.id, "void_reason", incident.void_reason_enc
        ),
        "window": rape_window_of(incident),
    }


def rape_window_of(incident: Incident) -> dict[str, Any] | None:
    """PEP and emergency contraception deadlines while they are relevant (rape_window)."""
    now = utcnow()
    window = rape_window.open_window(
        incident.gbvims_type,
        incident.occurred_on,
        incident.created_at,
        incident.voided_at is not None,
        now,
    )
    return window.as_dict(now) if window else None


def case_summary(case: Case) -> dict[str, Any]:
    return {
        "id": str(case.id),
        "number": case.number,
        "status": case.status,
        "created_at": iso(case.created_at),
    }


def case_metadata(case: Case) -> dict[str, Any]:
    """What a supervisor sees without break-glass: no identity, no narrative."""
    record = case_summary(case)
    record.update(
        risk_level=case.risk_level,
        mandatory_report=case.mandatory_report,
        updated_at=iso(case.updated_at),
        version=case.version,
        parties=[_party_record(party) for party in case.parties],
        # An absorbed record points at the one that stayed (its parties are parties there).
        merged_into_id=str(case.merged_into_id) if case.merged_into_id else None,
        closed_at=iso(case.closed_at),
        legal_hold=case.legal_hold_at is not None,
        legal_hold_since=iso(case.legal_hold_at),
    )
    return record


def purged_record(case: Case) -> dict[str, Any]:
    """A purged record: what stays readable without its key (no parties: they were
    there when it could be read, and who took part in her case is hers too)."""
    return {
        **case_summary(case),
        "purged": True,
        "purged_at": iso(case.purged_at),
        "closed_at": iso(case.closed_at),
        "updated_at": iso(case.updated_at),
        "version": case.version,
    }


def _party_record(party: CaseParty) -> dict[str, Any]:
    return {
        "institution": party.institution.code,
        "institution_name": party.institution.name,
        "reason": party.reason,
        "access": party.access,
        "since": iso(party.since),
        "ended_at": iso(party.ended_at),
    }


def consent_record(consent: Consent) -> dict[str, Any]:
    return {
        "share_with_network": consent.share_with_network,
        "statistics": consent.statistics,
        "police": consent.police,
        "given_by": consent.given_by,
        "recorded_at": iso(consent.recorded_at),
        "institution": consent.recorded_by_institution.code,
    }


def present_case(
    ring: KeyRing,
    case: Case,
    view: str,
    viewer_institution_id: int,
    responsible: access.Responsible | None = None,
    role: str = "",
) -> dict[str, Any]:
    """The record as this view and the caller's role may see it (`policy.ROLE_PARTS`).
    Needs a case loaded by `access.case_for(..., whole_record=True)` unless the view is
    metadata. `responsible`: the viewer's own
    institution's worker (a party sees its own, never another institution's)."""
    if view == policy.METADATA:
        return case_metadata(case)
    cipher = cipher_for(ring, case.data_key)
    if view == policy.OWN_PARTS:
        record = _own_parts_record(cipher, case, viewer_institution_id)
        return {**record, "responsible": responsible_record(responsible)}
    consent = case.consents[-1] if case.consents else None
    withheld = policy.withheld_parts(role) if view == policy.FULL else []
    parts = cast(Case, _RoleParts(case, viewer_institution_id, role)) if withheld else case
    record = case_metadata(case)
    record.update(
        survivor=survivor_record(cipher, case.survivor),
        incidents=[incident_record(cipher, incident) for incident in parts.incidents],
        consent=consent_record(consent) if consent else None,
        consents=[consent_record(c) for c in case.consents],
        close_reason=case.close_reason,
        risk=risk_state(case),
        responsible=responsible_record(responsible),
        parts_withheld=withheld,
        **care_parts(cipher, parts, viewer_institution_id),
    )
    return record


def responsible_record(responsible: access.Responsible | None) -> dict[str, Any] | None:
    if responsible is None:
        return None
    return {"id": responsible.id, "name": responsible.name, "active": responsible.active}


class _OwnParts:
    """The case as an own_parts party sees it: only the rows it wrote itself."""

    def __init__(self, case: Case, institution_id: int) -> None:
        def own(rows: list[Any], column: str = "institution_id") -> list[Any]:
            return [row for row in rows if getattr(row, column) == institution_id]

        plan = case.safety_plan
        self.id, self.number, self.created_at = case.id, case.number, case.created_at
        self.incidents = own(case.incidents, "entry_institution_id")
        self.consents: list[Consent] = []
        self.notes = own(case.notes)
        self.follow_ups = own(case.follow_ups)
        self.risk_assessments = own(case.risk_assessments)
        self.safety_plan = plan if plan and plan.institution_id == institution_id else None
        self.attachments = own(case.attachments)
        self.complaints = own(case.complaints)
        self.status_changes = own(case.status_changes)
        self.parties = own(case.parties)


class _RoleParts:
    """The whole record as a role with a minimum view reads it: every part her own
    institution wrote, and of the others' only the kinds her role reads."""

    def __init__(self, case: Case, institution_id: int, role: str) -> None:
        def kept(rows: list[Any], part: str, column: str = "institution_id") -> list[Any]:
            if policy.reads_others(role, part):
                return list(rows)
            return [row for row in rows if getattr(row, column) == institution_id]

        plan = case.safety_plan
        self.id, self.number, self.created_at = case.id, case.number, case.created_at
        self.incidents = kept(case.incidents, "incidents", "entry_institution_id")
        self.consents = case.consents
        self.notes = [
            note
            for note in case.notes
            if note.institution_id == institution_id
            or policy.reads_others(role, policy.NOTE_PARTS.get(note.kind, "notes:other"))
        ]
        self.follow_ups = kept(case.follow_ups, "follow_ups")
        self.risk_assessments = case.risk_assessments
        shows_plan = plan is not None and (
            plan.institution_id == institution_id or policy.reads_others(role, "safety_plan")
        )
        self.safety_plan = plan if shows_plan else None
        self.attachments = kept(case.attachments, "attachments")
        self.complaints = kept(case.complaints, "complaints")
        self.status_changes = case.status_changes
        self.parties = case.parties


def _own_parts_record(cipher: FieldCipher, case: Case, institution_id: int) -> dict[str, Any]:
    """That the record exists, and what this institution recorded; nothing others wrote,
    not even who else serves her (a shelter among the parties would say where she is)."""
    own = _OwnParts(case, institution_id)
    consent = case.consents[-1] if case.consents else None
    record = case_summary(case)
    record.update(
        risk_level=None,
        mandatory_report=case.mandatory_report,
        updated_at=iso(case.updated_at),
        version=case.version,
        parties=[_party_record(party) for party in own.parties],
        survivor=None,
        incidents=[incident_record(cipher, incident) for incident in own.incidents],
        consent=consent_record(consent) if consent else None,
        consents=[],
        close_reason=case.close_reason,
        merged_into_id=str(case.merged_into_id) if case.merged_into_id else None,
        **care_parts(cipher, cast(Case, own), institution_id),
    )
    return record


# ---- the parts added after intake, and the timeline -----------------------------------


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
        "reasons": (risk.reasons or "").split(),
        "judgement_high": risk.judgement_high,
        "judgement_reason": cipher.open_text(
            "risk_assessments", risk.id, "judgement_reason", risk.judgement_reason_enc
        ),
        "lowering_reason": cipher.open_text(
            "risk_assessments", risk.id, "lowering_reason", risk.lowering_reason_enc
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


def shaped(
    ring: KeyRing, session: DbSession, row: Any, shape: Callable[..., Any], *extra: Any
) -> Any:
    """A part the caller has just written (its service checked access to the case in this
    request), shaped for the answer with the case's cipher."""
    return shape(access.cipher_of_loaded_case(ring, session, row.case_id), row, *extra)


def measure_listed(measure: ProtectionMeasure) -> dict[str, Any]:
    """A measure in a work list: codes and dates; the court is read on the case page."""
    return {**measure_record(WITHHELD, measure), "court": None}


class _Withheld:
    """Stands in for a case's cipher where nothing may be decrypted (lists, former
    parties): every field opens to None."""

    def open_text(self, *_: Any) -> None:
        return None


WITHHELD = cast(FieldCipher, _Withheld())


def measure_record(cipher: FieldCipher, measure: ProtectionMeasure) -> dict[str, Any]:
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
        "breached_at": iso(measure.breached_at),
        "aggressor_id": str(measure.aggressor_id) if measure.aggressor_id else None,
    }


def complaint_record(cipher: FieldCipher, complaint: Complaint) -> dict[str, Any]:
    return {
        "id": str(complaint.id),
        "number": cipher.open_text("complaints", complaint.id, "number", complaint.number_enc),
        "fgr_number": cipher.open_text(
            "complaints", complaint.id, "fgr_number", complaint.fgr_number_enc
        ),
        "court_number": cipher.open_text(
            "complaints", complaint.id, "court_number", complaint.court_number_enc
        ),
        "version": complaint.version,
        "filed_on": iso(complaint.filed_on),
        "institution": complaint.institution.code,
        "status": complaint.status,
        "forward_to_prosecutor": complaint.forward_to_prosecutor,
        "incident_ids": [str(incident.id) for incident in complaint.incident_ids],
        "measures": [measure_record(cipher, m) for m in complaint.measures],
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
    items += [(i.voided_at, "incident_voided", None, None) for i in case.incidents if i.voided_at]
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
        "complaints": [complaint_record(cipher, c) for c in case.complaints],
        "timeline": timeline(case),
    }


# ---- the level of risk now, and the record's corrections -------------------------------


def risk_state(case: Case) -> dict[str, Any]:
    """The case's level, why (the last assessment's reasons and what its incidents say),
    and whether a reassessment is due (open, high, last one older than 30 days)."""
    last = case.risk_assessments[-1] if case.risk_assessments else None
    reasons = list((last.reasons or "").split()) if last and last.level == case.risk_level else []
    for incident in case.incidents:
        if incident.voided_at is None:
            for code in incident_reasons(
                incident.violence_types, incident.weapon, bool(incident.strangulation)
            ):
                if code not in reasons and case.risk_level == "high":
                    reasons.append(code)
    last_on = last.created_at.astimezone(LOCAL_TZ).date() if last else None
    return {
        "level": case.risk_level,
        "reasons": reasons,
        "last_assessed_at": iso(last.created_at) if last else None,
        "reassessment_due": reassessment_due(case.status, case.risk_level, last_on, local_today()),
        **breach_reassessment_state(case),
    }


def breach_reassessment_state(case: Case) -> dict[str, Any]:
    """By when a breached measure asks for a new risk assessment, and whether it is late."""
    due = None
    if case.status != "closed":
        due = pending_reassessment(
            (m.breached_at for c in case.complaints for m in c.measures),
            (r.created_at for r in case.risk_assessments),
        )
    return {
        "breach_reassessment_by": iso(due),
        "breach_reassessment_overdue": due is not None and utcnow() > due,
    }


def correction_record(
    cipher: FieldCipher, row: Correction, user_name: str, institution: str, values: bool
) -> dict[str, Any]:
    """One correction: who, when, which fields; why and the old and new values only
    for `values` (a view that reads the whole record)."""
    changes = (
        cipher.open_text("corrections", row.id, "changes", row.changes_enc) if values else None
    )
    return {
        "id": str(row.id),
        "at": iso(row.at),
        "user": user_name,
        "institution": institution,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "fields": row.fields.split(",") if row.fields else [],
        "reason": (
            cipher.open_text("corrections", row.id, "reason", row.reason_enc) if values else None
        ),
        "changes": json.loads(changes) if changes else None,
    }


def corrections_record(
    ring: KeyRing,
    case: Case,
    rows: list[tuple[Correction, str, str]],
    view: str,
    viewer_institution_id: int,
    role: str = "",
) -> list[dict[str, Any]]:
    """The whole record's views see every correction, with its values where the role
    reads the part it corrects; an own_parts
    party sees only those its own institution made, on what it recorded itself."""
    cipher = cipher_for(ring, case.data_key)
    if view == policy.BREAK_GLASS:
        return [correction_record(cipher, row, name, inst, True) for row, name, inst in rows]
    if view == policy.FULL:
        return [
            correction_record(
                cipher, row, name, inst, _correction_readable(row, viewer_institution_id, role)
            )
            for row, name, inst in rows
        ]
    return [
        correction_record(cipher, row, name, inst, True)
        for row, name, inst in rows
        if row.institution_id == viewer_institution_id and row.object_type != "survivor"
    ]


def _correction_readable(row: Correction, viewer_institution_id: int, role: str) -> bool:
    part = policy.CORRECTED_PARTS.get(row.object_type)
    return (
        part is None
        or row.institution_id == viewer_institution_id
        or policy.reads_others(role, part)
    )


OPEN_REFERRALS = ("sent", "accepted", "in_progress")


def still_open_in(record: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """What closing the case would leave open, read from the record the page shows."""
    return {
        "referrals": [
            r for r in record.get("referrals") or [] if r.get("status") in OPEN_REFERRALS
        ],
        "follow_ups": [f for f in record.get("follow_ups") or [] if not f.get("outcome")],
        "measures": [
            m
            for c in record.get("complaints") or []
            for m in c.get("measures") or []
            if m.get("status") == "active"
        ],
    }


def lead_record(case: Case, view: str, viewer_institution_id: int) -> dict[str, Any] | None:
    """The lead institution as this view may read it (`policy.sees_lead`), from the
    party rows already loaded: the lead is always one of the live parties."""
    lead_id = case.lead_institution_id
    if lead_id is None or not policy.sees_lead(view, viewer_institution_id, lead_id):
        return None
    for party in case.parties:
        if party.institution_id == lead_id and party.ended_at is None:
            institution = party.institution
            return {"id": lead_id, "code": institution.code, "name": institution.name}
    return None
