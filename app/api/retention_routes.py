"""Legal holds (supervisors) and her erasure requests (asked by a party with the whole
record, decided by another person, a supervisor). docs/retention.md."""

from __future__ import annotations

from flask import Response, current_app

from app.api import bp
from app.api.helpers import answer, api_caller, json_body, load
from app.core.ids import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db
from app.retention import service as retention
from app.retention.schemas import (
    ErasureIn,
    ErasureListOut,
    ErasureOut,
    ErasureReviewIn,
    LegalHoldIn,
    LegalHoldOut,
)


@bp.post("/cases/<case_id>/legal-hold")
def legal_hold(case_id: str) -> Response:
    data = load(LegalHoldIn, json_body())
    held = retention.set_legal_hold(
        db.session,
        get_keyring(),
        api_caller(),
        parse_uuid(case_id),
        data["hold"],
        data["reason"],
        current_app.config["RUTA_DEPARTMENT"],
    )
    return answer(LegalHoldOut, held)


@bp.post("/cases/<case_id>/erasure")
def request_erasure(case_id: str) -> Response:
    data = load(ErasureIn, json_body())
    asked = retention.request_erasure(
        db.session,
        get_keyring(),
        api_caller(),
        parse_uuid(case_id),
        data["legal_basis"],
        data["reason"],
    )
    return answer(ErasureOut, asked, 202)


@bp.get("/erasures")
def erasures() -> Response:
    return answer(ErasureListOut, {"items": retention.erasure_list(db.session, api_caller())})


@bp.post("/erasures/<erasure_id>/review")
def review_erasure(erasure_id: str) -> Response:
    data = load(ErasureReviewIn, json_body())
    decided = retention.review_erasure(
        db.session,
        get_keyring(),
        api_caller(),
        parse_uuid(erasure_id),
        data["approve"],
        current_app.config["RUTA_DEPARTMENT"],
    )
    return answer(ErasureOut, decided)
