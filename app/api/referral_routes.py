"""Referrals through the network, and the user's notifications."""

from __future__ import annotations

from flask import Response, request

from app.api import bp
from app.api.helpers import answer, api_caller, json_body, load
from app.core.ids import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db
from app.notifications.service import KINDS, mark_read, notifications_for
from app.referrals import listing, moves
from app.referrals import service as referrals
from app.referrals.schemas import (
    NotificationListOut,
    ReferralIn,
    ReferralListOut,
    ReferralOut,
    ReferralQueryIn,
    TransitionIn,
)


@bp.post("/cases/<case_id>/referrals")
def refer_case(case_id: str) -> Response:
    data = load(ReferralIn, json_body())
    caller = api_caller()
    referral = referrals.refer_case(db.session, get_keyring(), caller, parse_uuid(case_id), data)
    payload = referrals.read_referral(db.session, get_keyring(), caller, referral.id)
    return answer(ReferralOut, payload, 201)


@bp.get("/referrals")
def list_referrals() -> Response:
    query = load(ReferralQueryIn, request.args.to_dict())
    caller = api_caller()
    found = listing.inbox(db.session, get_keyring(), caller, listing.InboxQuery(**query))
    payload = {
        "items": found.items,
        "counts": found.counts,
        "facets": found.facets,
        "next_page": found.next_page,
    }
    return answer(ReferralListOut, payload)


@bp.get("/referrals/<referral_id>")
def read_referral(referral_id: str) -> Response:
    record = referrals.read_referral(
        db.session, get_keyring(), api_caller(), parse_uuid(referral_id)
    )
    return answer(ReferralOut, record)


@bp.post("/referrals/<referral_id>/transition")
def move_referral(referral_id: str) -> Response:
    data = load(TransitionIn, json_body())
    move = moves.Move(
        data["action"],
        data.get("note"),
        data.get("version"),
        done=data.get("done"),
        next_step=data.get("next_step"),
        contact=data.get("contact"),
    )
    caller = api_caller()
    referral = moves.move_referral(db.session, get_keyring(), caller, parse_uuid(referral_id), move)
    payload = referrals.read_referral(db.session, get_keyring(), caller, referral.id)
    return answer(ReferralOut, payload)


@bp.get("/notifications")
def list_notifications() -> Response:
    notes = notifications_for(db.session, api_caller().user)
    items = [
        {
            "id": n.id,
            "kind": n.kind,
            "label": KINDS.get(n.kind, n.kind),
            "case_id": str(n.case_id) if n.case_id else None,
            "reference": n.reference,
            "created_at": n.created_at.isoformat(),
            "read": n.read_at is not None,
        }
        for n in notes
    ]
    return answer(NotificationListOut, {"items": items})


@bp.post("/notifications/<int:notification_id>/read")
def read_notification(notification_id: int) -> Response:
    mark_read(db.session, api_caller().user, notification_id)
    return Response(status=204)
