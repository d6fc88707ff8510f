"""The user's dashboard (per role) and the public health check."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from app.extensions import db
from app.notifications.service import notifications_for

bp = Blueprint("main", __name__)
public = Blueprint("public", __name__)


@bp.get("/")
def dashboard() -> str:
    notes = notifications_for(db.session, current_user)
    return render_template("main/dashboard.html", notifications=notes)


@public.get("/healthz")
def health() -> tuple[str, int, dict[str, str]]:
    return "ok", 200, {"Content-Type": "text/plain"}
