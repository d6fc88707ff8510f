"""Referrals through the network, and the user's notifications."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from app.api import bp
from app.api.helpers import answer, api_caller, json_body, load
from app.core.ids import parse_uuid
from app.core.time import local_today
from app.crypto.service import get_keyring
from app.extensions import db
from app.notifications.service import KINDS, mark_read, notifications_for
from app.referrals import service as referrals
from app.referrals.models import Referral
from app.referrals.schemas import (
    NotificationListOut,
    ReferralIn,
    ReferralListOut,
    ReferralOut,
    ReferralQueryIn,
    TransitionIn,
)


def _overdue(referral: Referral) -> bool:
    return referral.status in referrals.LIVE and referral.due_on < local_today()


def _listed(referral: Referral, number: str) -> dict[str, Any]:
    """Inbox rows carry codes and dates only: no decryption for a list."""
    return {
        "id": str(referral.id),
        "case_id": str(referral.case_id),
        "case_number": number,
        "status": referral.status,
        "from_institution": referral.from_institution.code,
        "to_institution": referral.to_institution.code,
        "to_institution_id": referral.to_institution_id,
        "service": referral.service,
        "urgency": referral.urgency,
        "due_on": referral.due_on.isoformat(),
        "overdue": _overdue(referral),
        "consent": referral.consent,
        "mandatory_report": referral.mandatory_report,
        "tracked_by_sender": referral.tracked_by_sender,
        "created_at": referral.created_at.isoformat(),
        "version": referral.version,
    }


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
    rows = referrals.list_referrals(
        db.session, caller, query["box"], query.get("status"), overdue_only=query["overdue"]
    )
    counts = referrals.inbox_counts(db.session, caller)
    return answer(ReferralListOut, {"items": [_listed(r, n) for r, n in rows], "counts": counts})


@bp.get("/referrals/<referral_id>")
def read_referral(referral_id: str) -> Response:
    record = referrals.read_referral(
        db.session, get_keyring(), api_caller(), parse_uuid(referral_id)
    )
    return answer(ReferralOut, record)


@bp.post("/referrals/<referral_id>/transition")
def move_referral(referral_id: str) -> Response:
    data = load(TransitionIn, json_body())
    move = referrals.Move(data["action"], data.get("note"), data.get("version"))
    caller = api_caller()
    referral = referrals.move_referral(
        db.session, get_keyring(), caller, parse_uuid(referral_id), move
    )
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
