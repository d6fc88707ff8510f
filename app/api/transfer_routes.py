"""Transfers of the lead institution of a case (app/referrals/transfers.py)."""

from __future__ import annotations

from flask import Response, request

from app.api import bp
from app.api.helpers import answer, api_caller, json_body, load
from app.core.ids import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db
from app.referrals import transfer_present, transfers
from app.referrals.transfer_schemas import (
    TransferIn,
    TransferListOut,
    TransferOut,
    TransferQueryIn,
    TransferTransitionIn,
)


@bp.post("/cases/<case_id>/transfers")
def request_transfer(case_id: str) -> Response:
    data = load(TransferIn, json_body())
    record = transfers.request_transfer(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), data
    )
    return answer(TransferOut, record, 201)


@bp.get("/transfers")
def list_transfers() -> Response:
    query = load(TransferQueryIn, request.args.to_dict())
    items = transfer_present.list_transfers(db.session, api_caller(), query["box"])
    return answer(TransferListOut, {"items": items})


@bp.post("/transfers/<transfer_id>/transition")
def move_transfer(transfer_id: str) -> Response:
    data = load(TransferTransitionIn, json_body())
    move = transfers.TransferMove(data["action"], data.get("reason"), data.get("version"))
    record = transfers.move_transfer(
        db.session, get_keyring(), api_caller(), parse_uuid(transfer_id), move
    )
    return answer(TransferOut, record)
