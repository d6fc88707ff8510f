"""Supervisor endpoints: the audit log, its reports, and break-glass."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from flask import Response, current_app, request
from sqlalchemy import select

from app.api import bp
from app.api.auth import current_api_token, current_api_user
from app.api.helpers import answer, audit, json_body, load
from app.audit import breakglass, queries
from app.audit.models import BreakGlass
from app.audit.schemas import (
    AuditListOut,
    AuditQueryIn,
    AuditReportsOut,
    BreakGlassIn,
    BreakGlassListOut,
    BreakGlassOut,
    ReviewIn,
    SinceIn,
)
from app.auth.models import User
from app.common import parse_uuid, utcnow
from app.extensions import db

FRESH_LOGIN = timedelta(minutes=15)


def grant_dict(grant: BreakGlass, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": grant.id,
        "case_id": str(grant.case_id),
        "username": names.get(grant.user_id, ""),
        "reason": grant.reason,
        "started_at": grant.started_at.isoformat(),
        "expires_at": grant.expires_at.isoformat(),
        "reviewed_by": names.get(grant.reviewed_by_user_id or 0),
        "reviewed_at": grant.reviewed_at.isoformat() if grant.reviewed_at else None,
        "justified": grant.justified,
        "review_note": grant.review_note,
    }


def usernames(grants: list[BreakGlass]) -> dict[int, str]:
    ids = {g.user_id for g in grants} | {g.reviewed_by_user_id for g in grants}
    ids.discard(None)
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all()
    return {user_id: name for user_id, name in rows}


@bp.get("/audit")
def audit_events() -> Response:
    query = load(AuditQueryIn, request.args.to_dict())
    since = query.get("since")
    if since is not None and since.tzinfo is None:
        query["since"] = since.replace(tzinfo=UTC)
    events = queries.list_events(db.session, current_api_user(), **query)
    return answer(AuditListOut, {"items": [queries.event_dict(e) for e in events]})


@bp.get("/audit/reports")
def audit_reports() -> Response:
    since = load(SinceIn, request.args.to_dict()).get("since") or queries.default_since()
    user = current_api_user()
    grants = queries.break_glass_uses(db.session, user, since)
    names = usernames(grants)
    payload = {
        "since": since.isoformat(),
        "accesses_per_user_per_day": queries.accesses_per_user_per_day(db.session, user, since),
        "reads_outside_office_hours": [
            queries.event_dict(e)
            for e in queries.reads_outside_office_hours(db.session, user, since)
        ],
        "reads_by_non_parties": [
            queries.event_dict(e) for e in queries.reads_by_non_parties(db.session, user, since)
        ],
        "failed_logins": [
            {**row, "last": row["last"].isoformat()}
            for row in queries.failed_logins(db.session, user, since)
        ],
        "break_glass": [grant_dict(g, names) for g in grants],
    }
    return answer(AuditReportsOut, payload)


@bp.post("/cases/<case_id>/break-glass")
def break_glass(case_id: str) -> Response:
    data = load(BreakGlassIn, json_body())
    user = current_api_user()
    token = current_api_token()
    fresh = token is not None and utcnow() - token.created_at <= FRESH_LOGIN
    grant = breakglass.start_break_glass(
        db.session,
        user,
        parse_uuid(case_id),
        data["reason"],
        password=data.get("password"),
        minutes=current_app.config["RUTA_BREAK_GLASS_MINUTES"],
        fresh_login=fresh,
    )
    audit(
        "break_glass",
        object_type="case",
        object_id=grant.case_id,
        case_id=grant.case_id,
        reason=grant.reason,
        detail=f"minutes={current_app.config['RUTA_BREAK_GLASS_MINUTES']}",
    )
    payload = grant_dict(grant, {user.id: user.username})
    db.session.commit()
    return answer(BreakGlassOut, payload, 201)


@bp.get("/break-glass")
def break_glass_queue() -> Response:
    grants = breakglass.pending_reviews(db.session, current_api_user())
    names = usernames(grants)
    return answer(BreakGlassListOut, {"items": [grant_dict(g, names) for g in grants]})


@bp.post("/break-glass/<int:grant_id>/review")
def review_break_glass(grant_id: int) -> Response:
    data = load(ReviewIn, json_body())
    user = current_api_user()
    grant = breakglass.review_break_glass(
        db.session, user, grant_id, data["justified"], data.get("note")
    )
    audit(
        "break_glass",
        object_type="break_glass_review",
        object_id=grant.id,
        case_id=grant.case_id,
        detail=f"justified={grant.justified}",
    )
    payload = grant_dict(grant, usernames([grant]))
    db.session.commit()
    return answer(BreakGlassOut, payload)
