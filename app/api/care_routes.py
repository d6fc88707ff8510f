"""Adding to a case after intake: notes, follow-ups, risk, safety plan, status,
consent, complaints and protection measures, attachments."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from werkzeug.exceptions import BadRequest

from app.api import bp
from app.api.helpers import answer, api_caller, json_body, load
from app.cases import attachments, care, complaints
from app.cases import service as cases
from app.cases.antivirus import scanner_at
from app.cases.attachments import (
    RefusedByAntivirus,
    Upload,
    add_attachment,
    record_antivirus_refusal,
)
from app.cases.care_schemas import (
    AttachmentOut,
    CaseStatusIn,
    CaseStatusOut,
    ComplaintCorrectionIn,
    ComplaintIn,
    ComplaintOut,
    ConsentUpdateIn,
    CreatedOut,
    FollowUpIn,
    FollowUpListOut,
    FollowUpOut,
    FollowUpOutcomeIn,
    MeasureListOut,
    MeasureOut,
    MeasureUpdateIn,
    NoteIn,
    NoteOut,
    RiskIn,
    RiskOut,
    SafetyPlanIn,
    SafetyPlanOut,
)
from app.cases.present import (
    attachment_record,
    complaint_record,
    follow_up_record,
    measure_listed,
    measure_record,
    note_record,
    plan_record,
    shaped,
)
from app.cases.schemas import CorrectedOut
from app.core.downloads import file_response
from app.core.ids import parse_uuid
from app.core.transaction import record_despite_failure
from app.crypto.service import get_keyring
from app.extensions import db
from app.referrals import service as referrals


@bp.post("/cases/<case_id>/notes")
def add_note(case_id: str) -> Response:
    data = load(NoteIn, json_body())
    caller = api_caller()
    note = care.add_note(db.session, get_keyring(), caller, parse_uuid(case_id), data)
    payload = shaped(get_keyring(), db.session, note, note_record, caller.institution_id)
    return answer(NoteOut, payload, 201)


@bp.post("/cases/<case_id>/follow-ups")
def add_follow_up(case_id: str) -> Response:
    data = load(FollowUpIn, json_body())
    follow_up = care.add_follow_up(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), data
    )
    payload = {
        **shaped(get_keyring(), db.session, follow_up, follow_up_record),
        "case_id": str(follow_up.case_id),
    }
    return answer(FollowUpOut, payload, 201)


@bp.post("/cases/<case_id>/follow-ups/<follow_up_id>/outcome")
def record_follow_up(case_id: str, follow_up_id: str) -> Response:
    data = load(FollowUpOutcomeIn, json_body())
    follow_up = care.record_follow_up(
        db.session,
        get_keyring(),
        api_caller(),
        parse_uuid(case_id),
        parse_uuid(follow_up_id),
        data,
    )
    payload = {
        **shaped(get_keyring(), db.session, follow_up, follow_up_record),
        "case_id": str(follow_up.case_id),
    }
    return answer(FollowUpOut, payload)


@bp.get("/follow-ups")
def list_follow_ups() -> Response:
    """The institution's overdue follow-ups (the women's office work list)."""
    caller = api_caller()
    cases.require_case_role(caller)
    rows = care.overdue_follow_ups(db.session, caller)
    items = [
        {
            "id": str(f.id),
            "case_id": str(f.case_id),
            "case_number": number,
            "due_on": f.due_on.isoformat(),
            "channel": f.channel,
            "institution": f.institution.code,
            "outcome": f.outcome,
            "version": f.version,
        }
        for f, number in rows
    ]
    return answer(FollowUpListOut, {"items": items})


@bp.post("/cases/<case_id>/risk-assessments")
def assess_risk(case_id: str) -> Response:
    data = load(RiskIn, json_body())
    row, result = care.assess_risk(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), data
    )
    payload = {
        "id": str(row.id),
        "case_id": str(row.case_id),
        "score": result.score,
        "level": result.level,
        "reasons": list(result.reasons),
        "suggest_protection_referral": result.level == "high",
    }
    return answer(RiskOut, payload, 201)


@bp.put("/cases/<case_id>/safety-plan")
def save_safety_plan(case_id: str) -> Response:
    data = load(SafetyPlanIn, json_body())
    plan = care.save_safety_plan(db.session, get_keyring(), api_caller(), parse_uuid(case_id), data)
    return answer(SafetyPlanOut, shaped(get_keyring(), db.session, plan, plan_record))


@bp.post("/cases/<case_id>/status")
def change_status(case_id: str) -> Response:
    data = load(CaseStatusIn, json_body())
    changed = referrals.change_case_status(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), data
    )
    case = changed.case
    payload: dict[str, Any] = {
        "id": str(case.id),
        "status": case.status,
        "close_reason": case.close_reason,
        "version": case.version,
    }
    if changed.still_open is not None:  # closing is allowed, and says what stays open
        payload["still_open"] = changed.still_open
    return answer(CaseStatusOut, payload)


@bp.post("/cases/<case_id>/consent")
def record_consent(case_id: str) -> Response:
    data = load(ConsentUpdateIn, json_body())
    case = cases.change_consent(db.session, get_keyring(), api_caller(), parse_uuid(case_id), data)
    return answer(CreatedOut, {"id": str(case.id), "case_id": str(case.id)}, 201)


@bp.post("/cases/<case_id>/complaints")
def file_complaint(case_id: str) -> Response:
    data = load(ComplaintIn, json_body())
    complaint = complaints.file_complaint(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), data
    )
    db.session.refresh(complaint)
    return answer(ComplaintOut, shaped(get_keyring(), db.session, complaint, complaint_record), 201)


@bp.patch("/cases/<case_id>/complaints/<complaint_id>")
def correct_complaint(case_id: str, complaint_id: str) -> Response:
    data = load(ComplaintCorrectionIn, json_body())
    result = complaints.correct_complaint(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), parse_uuid(complaint_id), data
    )
    payload = {
        "id": str(result.id),
        "version": result.version,
        "fields": list(result.fields),
        "correction_id": str(result.correction_id) if result.correction_id else None,
    }
    return answer(CorrectedOut, payload)


@bp.patch("/cases/<case_id>/measures/<measure_id>")
def update_measure(case_id: str, measure_id: str) -> Response:
    data = load(MeasureUpdateIn, json_body())
    measure = complaints.update_measure(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), parse_uuid(measure_id), data
    )
    payload = shaped(get_keyring(), db.session, measure, measure_record)
    return answer(MeasureOut, payload)


@bp.get("/measures/expiring")
def expiring_measures() -> Response:
    caller = api_caller()
    cases.require_case_role(caller)
    rows = complaints.expiring_measures(db.session, caller)
    return answer(
        MeasureListOut,
        {"items": [{**measure_listed(m), "case_number": number} for m, number in rows]},
    )


@bp.post("/cases/<case_id>/attachments")
def upload_attachment(case_id: str) -> Response:
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("Send the file as multipart/form-data field 'file'.")
    given = Upload(upload.filename or "", upload.read(), request.form.get("description"))
    ring, caller = get_keyring(), api_caller()
    try:
        attachment, cipher = add_attachment(
            db.session,
            ring,
            caller,
            parse_uuid(case_id),
            given,
            current_app.config["RUTA_ATTACHMENTS_DIR"],
            scanner=scanner_at(current_app.config["RUTA_CLAMD"]),
        )
    except RefusedByAntivirus as error:
        refusal = error  # the except name is unbound for closures
        record_despite_failure(lambda: record_antivirus_refusal(db.session, ring, caller, refusal))
        raise
    return answer(AttachmentOut, attachment_record(cipher, attachment), 201)


@bp.get("/cases/<case_id>/attachments/<attachment_id>")
def download_attachment(case_id: str, attachment_id: str) -> Response:
    file = attachments.download_attachment(
        db.session,
        get_keyring(),
        api_caller(),
        parse_uuid(case_id),
        parse_uuid(attachment_id),
        current_app.config["RUTA_ATTACHMENTS_DIR"],
    )
    return file_response(file.content, file.content_type, file.name)
