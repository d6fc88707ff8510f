"""Supervisor endpoints: the audit log, its reports, and break-glass."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from flask import Response, current_app, request

from app.api import bp
from app.api.auth import current_api_user
from app.api.helpers import answer, api_caller, json_body, load
from app.audit.models import BreakGlass
from app.auth import accounts, recovery
from app.auth.accounts import usernames
from app.auth.models import AccountRecovery, User
from app.core.ids import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db
from app.supervision import breakglass, queries
from app.supervision.schemas import (
    AccountListOut,
    AccountOut,
    ApprovalIn,
    AuditListOut,
    AuditQueryIn,
    AuditReportsOut,
    BreakGlassIn,
    BreakGlassListOut,
    BreakGlassOut,
    RecoveryListOut,
    RecoveryOut,
    ReviewIn,
    SinceIn,
)


def grant_dict(
    grant: BreakGlass, names: dict[int, str], reasons: dict[int, str | None]
) -> dict[str, Any]:
    return {
        "id": grant.id,
        "case_id": str(grant.case_id),
        "username": names.get(grant.user_id, ""),
        "reason": reasons.get(grant.id),
        "started_at": grant.started_at.isoformat(),
        "expires_at": grant.expires_at.isoformat(),
        "reviewed_by": names.get(grant.reviewed_by_user_id or 0),
        "reviewed_at": grant.reviewed_at.isoformat() if grant.reviewed_at else None,
        "justified": grant.justified,
        "review_note": grant.review_note,
    }


def grant_dicts(user: User, grants: list[BreakGlass]) -> list[dict[str, Any]]:
    """For supervisors only: the reasons are decrypted."""
    names = usernames(db.session, {i for g in grants for i in (g.user_id, g.reviewed_by_user_id)})
    reasons = breakglass.open_reasons(db.session, get_keyring(), user, grants)
    return [grant_dict(g, names, reasons) for g in grants]


def account_dict(user: User, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "institution": user.institution.code,
        "role": user.role,
        "created_at": user.created_at.isoformat(),
        "requested_by": names.get(user.requested_by_user_id or 0),
        "approved_by": names.get(user.approved_by_user_id or 0),
        "approved_at": user.approved_at.isoformat() if user.approved_at else None,
        "active": user.active,
    }


@bp.get("/audit")
def audit_events() -> Response:
    query = load(AuditQueryIn, request.args.to_dict())
    since = query.get("since")
    if since is not None and since.tzinfo is None:
        query["since"] = since.replace(tzinfo=UTC)
    events = queries.list_events(db.session, current_api_user(), **query)
    return answer(AuditListOut, {"items": queries.event_dicts(db.session, events)})


@bp.get("/audit/reports")
def audit_reports() -> Response:
    since = load(SinceIn, request.args.to_dict()).get("since") or queries.default_since()
    user = current_api_user()
    grants = queries.break_glass_uses(db.session, user, since)
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
        "break_glass": grant_dicts(user, grants),
    }
    return answer(AuditReportsOut, payload)


@bp.post("/cases/<case_id>/break-glass")
def break_glass(case_id: str) -> Response:
    data = load(BreakGlassIn, json_body())
    caller = api_caller()
    grant = breakglass.start_break_glass(
        db.session,
        get_keyring(),
        caller,
        parse_uuid(case_id),
        data["reason"],
        password=data.get("password"),
        minutes=current_app.config["RUTA_BREAK_GLASS_MINUTES"],
    )
    return answer(BreakGlassOut, grant_dicts(caller.user, [grant])[0], 201)


@bp.get("/break-glass")
def break_glass_queue() -> Response:
    user = current_api_user()
    grants = breakglass.pending_reviews(db.session, user)
    return answer(BreakGlassListOut, {"items": grant_dicts(user, grants)})


@bp.post("/break-glass/<int:grant_id>/review")
def review_break_glass(grant_id: int) -> Response:
    data = load(ReviewIn, json_body())
    caller = api_caller()
    grant = breakglass.review_break_glass(
        db.session, get_keyring(), caller, grant_id, data["justified"], data.get("note")
    )
    return answer(BreakGlassOut, grant_dicts(caller.user, [grant])[0])


# ---- accounts waiting for a supervisor's approval ----------------------------------------


@bp.get("/accounts/pending")
def pending_accounts() -> Response:
    waiting = accounts.pending_accounts(db.session, api_caller())
    names = usernames(db.session, {u.requested_by_user_id for u in waiting})
    return answer(AccountListOut, {"items": [account_dict(u, names) for u in waiting]})


@bp.post("/accounts/<int:user_id>/approve")
def approve_account(user_id: int) -> Response:
    caller = api_caller()
    accounts.require_approver(caller)  # the role before the body: 403, never 422, to others
    data = load(ApprovalIn, json_body())
    user = accounts.approve_account(
        db.session, get_keyring().audit_key, caller, user_id, data["approve"]
    )
    names = usernames(db.session, {user.requested_by_user_id, user.approved_by_user_id})
    return answer(AccountOut, account_dict(user, names))  # the request's transaction commits


# ---- account recoveries waiting for a supervisor's approval ------------------------------


def recovery_dict(row: AccountRecovery, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "user_id": row.user_id,
        "username": row.user.username,
        "institution": row.user.institution.code,
        "reason": row.reason,
        "requested_by": names.get(row.requested_by_user_id),
        "requested_at": row.requested_at.isoformat(),
        "decided_by": names.get(row.decided_by_user_id or 0),
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "approved": row.approved,
    }


def recovery_names(rows: list[AccountRecovery]) -> dict[int, str]:
    return usernames(
        db.session, {i for r in rows for i in (r.requested_by_user_id, r.decided_by_user_id)}
    )


@bp.get("/recoveries/pending")
def pending_recoveries() -> Response:
    rows = recovery.pending_recoveries(db.session, api_caller())
    names = recovery_names(rows)
    return answer(RecoveryListOut, {"items": [recovery_dict(r, names) for r in rows]})


@bp.post("/recoveries/<int:recovery_id>/approve")
def decide_recovery(recovery_id: int) -> Response:
    caller = api_caller()
    accounts.require_approver(caller)  # the role before the body: 403, never 422, to others
    data = load(ApprovalIn, json_body())
    row = recovery.decide_recovery(
        db.session, get_keyring().audit_key, caller, recovery_id, data["approve"]
    )
    return answer(RecoveryOut, recovery_dict(row, recovery_names([row])))
