"""The user's dashboard (per role), the language switch and the health check."""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response

from app.auth.policy import may_read_audit, may_work_on_cases
from app.extensions import db
from app.notifications.service import notifications_for
from app.referrals import service as referrals
from app.referrals.tasks import task_list
from app.supervision.breakglass import pending_reviews
from app.web.formtools import web_caller
from app.web.helpers import LOCALES

bp = Blueprint("main", __name__)
public = Blueprint("public", __name__)

TASK_LABELS = {
    "recent_rape": _l("Violación en las últimas 72 horas: PEP y anticoncepción de emergencia"),
    "breach_reassessment": _l("Medida incumplida: nueva valoración de riesgo antes de 24 horas"),
    "referral_to_answer": _l("Remisión por responder"),
    "follow_up_overdue": _l("Seguimiento vencido"),
    "follow_up_today": _l("Seguimiento para hoy"),
    "measure_expiring": _l("Medida de protección por vencer"),
    "hearing_upcoming": _l("Audiencia en los próximos 7 días"),
    "high_risk_unprotected": _l("Riesgo alto sin plan de seguridad ni medida vigente"),
    "reassessment_due": _l("Riesgo alto: valorar de nuevo (más de 30 días)"),
    "repeat_aggressor": _l(
        "El agresor aparece en otros expedientes: revise la valoración de riesgo"
    ),
}


def case_worker_board() -> dict[str, Any]:
    tasks = task_list(db.session, web_caller())
    kinds = Counter(task.kind for task in tasks)
    return {"tasks": tasks, "task_counts": kinds, "task_labels": TASK_LABELS}


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
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}
