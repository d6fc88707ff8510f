"""The user's dashboard (per role), the language switch and the health check."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.auth.policy import may_read_audit, may_work_on_cases
from app.cases import access
from app.cases.care import overdue_follow_ups
from app.cases.complaints import expiring_measures
from app.extensions import db
from app.notifications.service import notifications_for
from app.referrals import service as referrals
from app.supervision.breakglass import pending_reviews
from app.web.formtools import web_caller
from app.web.helpers import LOCALES

bp = Blueprint("main", __name__)
public = Blueprint("public", __name__)


def case_worker_board() -> dict[str, Any]:
    user = web_caller()
    return {
        "counts": referrals.inbox_counts(db.session, user),
        "to_answer": referrals.list_referrals(db.session, user, "incoming", "sent", limit=20),
        "overdue_follow_ups": overdue_follow_ups(db.session, user),
        "high_risk": access.high_risk_cases(db.session, user),
        "expiring": expiring_measures(db.session, user),
    }


def supervisor_board() -> dict[str, Any]:
    overdue = referrals.count_overdue(db.session)
    return {
        "pending_reviews": pending_reviews(db.session, current_user),
        "overdue_referrals": overdue,
    }


@bp.get("/")
def dashboard() -> str:
    board: dict[str, Any] = {}
    if may_work_on_cases(current_user):
        board = case_worker_board()
    elif may_read_audit(current_user):
        board = supervisor_board()
    return render_template(
        "main/dashboard.html",
        notifications=notifications_for(db.session, current_user, limit=20),
        **board,
    )


@bp.post("/language")
def language() -> Response:
    chosen = request.form.get("lang")
    if chosen in LOCALES:
        session["lang"] = chosen
    target = request.form.get("next") or ""
    safe = target.startswith("/") and not target.startswith("//")
    return redirect(target if safe else url_for("main.dashboard"))


@public.get("/favicon.ico")
def favicon() -> Response:
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@public.get("/healthz")
def health() -> tuple[str, int, dict[str, str]]:
    return "ok", 200, {"Content-Type": "text/plain"}
