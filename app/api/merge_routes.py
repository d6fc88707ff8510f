"""Merging two records of one woman: asked by a party of both, decided by a supervisor,
reversible for 30 days. Answers carry case numbers and dates, never her name."""

from __future__ import annotations

from flask import Response, current_app

from app.api import bp
from app.api.helpers import answer, api_caller, json_body, load
from app.cases import merge
from app.cases.schemas import MergeIn, MergeListOut, MergeOut, MergeReviewIn
from app.core.ids import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db
from app.referrals import merge as merging


@bp.post("/cases/<case_id>/merge")
def request_merge(case_id: str) -> Response:
    data = load(MergeIn, json_body())
    asked = merge.request_merge(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), data["absorb"], data["reason"]
    )
    return answer(MergeOut, asked, 202)


@bp.get("/merges")
def merges() -> Response:
    return answer(MergeListOut, {"items": merge.merge_list(db.session, api_caller())})


@bp.post("/merges/<merge_id>/review")
def review_merge(merge_id: str) -> Response:
    data = load(MergeReviewIn, json_body())
    decided = merging.review_merge(
        db.session,
        get_keyring(),
        api_caller(),
        parse_uuid(merge_id),
        data["approve"],
        current_app.config["RUTA_ATTACHMENTS_DIR"],
    )
    return answer(MergeOut, decided)


@bp.post("/merges/<merge_id>/revert")
def revert_merge(merge_id: str) -> Response:
    reverted = merging.revert_merge(
        db.session,
        get_keyring(),
        api_caller(),
        parse_uuid(merge_id),
        current_app.config["RUTA_ATTACHMENTS_DIR"],
    )
    return answer(MergeOut, reverted)
