"""The justice pathway of a denuncia: its moves, file numbers, hearings, and her choice
to read her next hearing in the status lookup."""

from __future__ import annotations

from flask import Response

from app.api import bp
from app.api.helpers import answer, api_caller, json_body, load
from app.cases import justice
from app.cases.care_schemas import CreatedOut
from app.cases.justice_present import complaint_state, hearing_state
from app.cases.justice_schemas import (
    ComplaintMoveIn,
    ComplaintStateOut,
    FileNumbersIn,
    HearingIn,
    HearingNoticeIn,
    HearingOut,
    HearingOutcomeIn,
)
from app.core.ids import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db


@bp.post("/cases/<case_id>/complaints/<complaint_id>/transition")
def move_complaint(case_id: str, complaint_id: str) -> Response:
    data = load(ComplaintMoveIn, json_body())
    complaint = justice.transition_complaint(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), parse_uuid(complaint_id), data
    )
    return answer(ComplaintStateOut, complaint_state(get_keyring(), db.session, complaint))


@bp.post("/cases/<case_id>/complaints/<complaint_id>/file-numbers")
def set_file_numbers(case_id: str, complaint_id: str) -> Response:
    data = load(FileNumbersIn, json_body())
    complaint = justice.set_file_numbers(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), parse_uuid(complaint_id), data
    )
    return answer(ComplaintStateOut, complaint_state(get_keyring(), db.session, complaint))


@bp.post("/cases/<case_id>/complaints/<complaint_id>/hearings")
def schedule_hearing(case_id: str, complaint_id: str) -> Response:
    data = load(HearingIn, json_body())
    hearing = justice.schedule_hearing(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), parse_uuid(complaint_id), data
    )
    return answer(HearingOut, hearing_state(get_keyring(), db.session, hearing), 201)


@bp.patch("/cases/<case_id>/hearings/<hearing_id>")
def record_hearing_outcome(case_id: str, hearing_id: str) -> Response:
    data = load(HearingOutcomeIn, json_body())
    hearing = justice.record_hearing_outcome(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), parse_uuid(hearing_id), data
    )
    return answer(HearingOut, hearing_state(get_keyring(), db.session, hearing))


@bp.post("/cases/<case_id>/hearing-notice")
def record_hearing_notice(case_id: str) -> Response:
    data = load(HearingNoticeIn, json_body())
    notice = justice.record_hearing_notice(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), data
    )
    return answer(CreatedOut, {"id": str(notice.id), "case_id": str(notice.case_id)}, 201)
