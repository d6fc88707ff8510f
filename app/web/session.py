"""The session that follows the person: what a page's script asks of it.

`POST /session/ping` is sent by the page while she types or clicks (at most once a
minute): her session counts as used. `GET /session/status` tells a tab how long the
session has left without using it, so that a tab she left alone asks before it warns
her or hides the page, and an abandoned PC still times out. Neither is a read of a case
or writes to the audit log. The script is app/static/js/ruta.js.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, jsonify, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from app.auth.sessions import SessionTime, keep_alive, session_time, time_left
from app.extensions import db

bp = Blueprint("session", __name__, url_prefix="/session")

WARN_BEFORE = timedelta(minutes=2)  # the warning comes two minutes before the end
PING_EVERY = 60  # seconds: at most one keep-alive a minute


def _lifetimes() -> tuple[timedelta, timedelta]:
    return current_app.config["RUTA_IDLE_TIMEOUT"], current_app.config["RUTA_SESSION_LIFETIME"]


def _answer(state: SessionTime | None) -> tuple[Response, int]:
    if state is None:
        return jsonify(live=False, seconds_left=0, csrf_token=generate_csrf()), 401
    return jsonify(
        live=True,
        seconds_left=state.seconds_left,
        user=state.user_id,
        restricted=state.restricted,
        # A sign-in in another tab renewed the session: this tab's forms need its token.
        csrf_token=generate_csrf(),
    ), 200


@bp.post("/ping")
def ping() -> tuple[Response, int]:
    return _answer(keep_alive(current_user.web_session, *_lifetimes()))


@bp.get("/status")
def status() -> tuple[Response, int]:
    # Flask-Login keeps the server-side session's cookie id under `_user_id`.
    return _answer(session_time(db.session, session.get("_user_id"), *_lifetimes()))


@bp.app_context_processor
def session_clock() -> dict[str, Any]:
    """`session_clock()` in base.html: the timings the page's script works with."""
    return {"session_clock": _clock}


def _clock() -> dict[str, int]:
    idle_timeout, absolute = _lifetimes()
    idle = int(idle_timeout.total_seconds())
    state = time_left(current_user.web_session, idle_timeout, absolute)
    # RUTA_SESSION_WARN_BEFORE lets the browser tests warn a few seconds before the end.
    lead = current_app.config.get("RUTA_SESSION_WARN_BEFORE", WARN_BEFORE)
    warn = min(int(lead.total_seconds()), idle // 2)  # a short idle time warns at its half
    return {
        "left": state.seconds_left if state else 0,
        "warn": warn,
        "warn_minutes": max(1, warn // 60),
        # Often enough that a ping lands well before the warning.
        "ping_every": max(1, min(PING_EVERY, idle // 10)),
    }
