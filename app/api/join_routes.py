"""Supervisors' review of joins: institutions that joined a record through an intake."""

from __future__ import annotations

from flask import Response

from app.api import bp
from app.api.helpers import answer, api_caller, json_body, load
from app.cases import service as cases
from app.cases.schemas import JoinListOut, JoinReviewIn, JoinReviewOut
from app.crypto.service import get_keyring
from app.extensions import db


@bp.get("/joins")
def pending_joins() -> Response:
    return answer(JoinListOut, {"items": cases.pending_joins(db.session, api_caller())})


@bp.post("/joins/<int:party_id>/review")
def review_join(party_id: int) -> Response:
    data = load(JoinReviewIn, json_body())
    cases.review_join(db.session, get_keyring(), api_caller(), party_id, data["justified"])
    return answer(JoinReviewOut, {"id": party_id, "reviewed": True})
