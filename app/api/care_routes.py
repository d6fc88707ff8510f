"""Adding to a case after intake: notes, follow-ups, risk, safety plan, status,
consent, complaints and protection measures, attachments."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request, send_file
from werkzeug.exceptions import BadRequest

from app.api import bp
from app.api.auth import current_api_user
from app.api.helpers import answer, audit, json_body, load
from app.cases import care, complaints
from app.cases import service as cases
from app.cases.attachments import read_attachment, store_attachment
from app.cases.care_models import Attachment
from app.cases.care_schemas import (
    AttachmentOut,
    CaseStatusIn,
    CaseStatusOut,
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
from app.cases.record_parts import (
    attachment_record,
    complaint_record,
    follow_up_record,
    measure_record,
    note_record,
    plan_record,
)
from app.common import NotFound, parse_uuid
from app.crypto.service import cipher_for, get_keyring
from app.extensions import db


def _changed(case_id: Any, detail: str, object_type: str, object_id: Any) -> None:
    audit(
        "case_update", object_type=object_type, object_id=object_id, case_id=case_id, detail=detail
    )


def _cipher_for_case(case_id: str) -> Any:
    """Only after a service has checked access to this case in the same request."""
    return cases.cipher_of_checked_case(db.session, get_keyring(), parse_uuid(case_id))


@bp.post("/cases/<case_id>/notes")
def add_note(case_id: str) -> Response:
    data = load(NoteIn, json_body())
    user = current_api_user()
    note = care.add_note(db.session, get_keyring(), user, parse_uuid(case_id), data)
    _changed(note.case_id, f"note:{note.kind}", "care_note", note.id)
    payload = note_record(_cipher_for_case(case_id), note, user.institution_id)
    db.session.commit()
    return answer(NoteOut, payload, 201)


@bp.post("/cases/<case_id>/follow-ups")
def add_follow_up(case_id: str) -> Response:
    data = load(FollowUpIn, json_body())
    follow_up = care.add_follow_up(db.session, current_api_user(), parse_uuid(case_id), data)
    _changed(follow_up.case_id, "follow_up_planned", "follow_up", follow_up.id)
    payload = {
        **follow_up_record(_cipher_for_case(case_id), follow_up),
        "case_id": str(follow_up.case_id),
    }
    db.session.commit()
    return answer(FollowUpOut, payload, 201)


@bp.post("/cases/<case_id>/follow-ups/<follow_up_id>/outcome")
def record_follow_up(case_id: str, follow_up_id: str) -> Response:
    data = load(FollowUpOutcomeIn, json_body())
    follow_up = care.record_follow_up(
        db.session,
        get_keyring(),
        current_api_user(),
        parse_uuid(case_id),
        parse_uuid(follow_up_id),
        data,
    )
    _changed(follow_up.case_id, f"follow_up:{follow_up.outcome}", "follow_up", follow_up.id)
    payload = {
        **follow_up_record(_cipher_for_case(case_id), follow_up),
        "case_id": str(follow_up.case_id),
    }
    db.session.commit()
    return answer(FollowUpOut, payload)


@bp.get("/follow-ups")
def list_follow_ups() -> Response:
    """The institution's overdue follow-ups (the women's office work list)."""
    user = current_api_user()
    cases.require_case_role(user)
    rows = care.overdue_follow_ups(db.session, user)
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
        db.session, get_keyring(), current_api_user(), parse_uuid(case_id), data
    )
    _changed(row.case_id, f"risk:{row.level}", "risk_assessment", row.id)
    payload = {
        "id": str(row.id),
        "case_id": str(row.case_id),
        "score": result.score,
        "level": result.level,
        "reasons": list(result.reasons),
        "suggest_protection_referral": result.level == "high",
    }
    db.session.commit()
    return answer(RiskOut, payload, 201)


@bp.put("/cases/<case_id>/safety-plan")
def save_safety_plan(case_id: str) -> Response:
    data = load(SafetyPlanIn, json_body())
    plan = care.save_safety_plan(
        db.session, get_keyring(), current_api_user(), parse_uuid(case_id), data
    )
    _changed(plan.case_id, "safety_plan", "safety_plan", plan.id)
    db.session.commit()
    return answer(SafetyPlanOut, plan_record(_cipher_for_case(case_id), plan))


@bp.post("/cases/<case_id>/status")
def change_status(case_id: str) -> Response:
    data = load(CaseStatusIn, json_body())
    case = care.change_status(db.session, current_api_user(), parse_uuid(case_id), data)
    _changed(case.id, f"status:{case.status}", "case", case.id)
    db.session.commit()
    return answer(
        CaseStatusOut,
        {
            "id": str(case.id),
            "status": case.status,
            "close_reason": case.close_reason,
            "version": case.version,
        },
    )


@bp.post("/cases/<case_id>/consent")
def record_consent(case_id: str) -> Response:
    data = load(ConsentUpdateIn, json_body())
    user = current_api_user()
    case = cases.get_case_for(db.session, user, parse_uuid(case_id))
    cases.record_consent(db.session, user, case, data)
    _changed(case.id, "consent", "case", case.id)
    db.session.commit()
    return answer(CreatedOut, {"id": str(case.id), "case_id": str(case.id)}, 201)


@bp.post("/cases/<case_id>/complaints")
def file_complaint(case_id: str) -> Response:
    data = load(ComplaintIn, json_body())
    complaint = complaints.file_complaint(db.session, current_api_user(), parse_uuid(case_id), data)
    _changed(complaint.case_id, "complaint", "complaint", complaint.id)
    db.session.commit()
    db.session.refresh(complaint)
    return answer(ComplaintOut, complaint_record(complaint), 201)


@bp.patch("/cases/<case_id>/measures/<measure_id>")
def update_measure(case_id: str, measure_id: str) -> Response:
    data = load(MeasureUpdateIn, json_body())
    measure = complaints.update_measure(
        db.session, current_api_user(), parse_uuid(case_id), parse_uuid(measure_id), data
    )
    _changed(measure.case_id, f"measure:{measure.status}", "protection_measure", measure.id)
    payload = measure_record(measure)
    db.session.commit()
    return answer(MeasureOut, payload)


@bp.get("/measures/expiring")
def expiring_measures() -> Response:
    user = current_api_user()
    cases.require_case_role(user)
    rows = complaints.expiring_measures(db.session, user)
    return answer(
        MeasureListOut,
        {"items": [{**measure_record(m), "case_number": number} for m, number in rows]},
    )


@bp.post("/cases/<case_id>/attachments")
def upload_attachment(case_id: str) -> Response:
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("Send the file as multipart/form-data field 'file'.")
    user = current_api_user()
    case = cases.get_case_for(db.session, user, parse_uuid(case_id))
    cipher = cipher_for(get_keyring(), case.data_key)
    attachment = store_attachment(
        db.session,
        cipher,
        case_id=case.id,
        institution_id=user.institution_id,
        user_id=user.id,
        directory=current_app.config["RUTA_ATTACHMENTS_DIR"],
        filename=upload.filename or "",
        data=upload.read(),
        description=request.form.get("description"),
    )
    _changed(case.id, f"attachment:{attachment.content_type}", "attachment", attachment.id)
    db.session.commit()
    db.session.refresh(attachment)
    return answer(AttachmentOut, attachment_record(cipher, attachment), 201)


@bp.get("/cases/<case_id>/attachments/<attachment_id>")
def download_attachment(case_id: str, attachment_id: str) -> Response:
    user = current_api_user()
    case = cases.get_case_for(db.session, user, parse_uuid(case_id))
    attachment = (
        db.session.get(Attachment, parse_uuid(attachment_id)) if parse_uuid(attachment_id) else None
    )
    if attachment is None or attachment.case_id != case.id:
        raise NotFound("attachment not found")
    cipher = cipher_for(get_keyring(), case.data_key)
    content = read_attachment(cipher, attachment, current_app.config["RUTA_ATTACHMENTS_DIR"])
    name = attachment_record(cipher, attachment)["filename"] or "documento"
    audit("attachment_download", object_type="attachment", object_id=attachment.id, case_id=case.id)
    db.session.commit()
    return attachment_response(content, attachment.content_type, name)


def attachment_response(content: bytes, content_type: str, name: str) -> Response:
    from io import BytesIO

    response = send_file(
        BytesIO(content), mimetype=content_type, as_attachment=True, download_name=name, max_age=0
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
