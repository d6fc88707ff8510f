"""Driving the login pages and the token endpoint the way a browser or a client would.

CSRF stays on: every form is fetched first and its `csrf_token` sent back.
"""

from __future__ import annotations

import re
import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from app.auth.models import User, UserSession
from app.auth.sessions import start_session
from app.auth.totp import STEP_SECONDS, current_code
from app.extensions import db

SESSION_COOKIE = "ruta_session"
GENERIC_LOGIN_ERROR = "Usuario, contraseña o código incorrectos."
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no csrf_token in the page"
    return found.group(1)


# The TOTP clock (the phone's and the server's, app/auth/totp.py) of this test: stopped
# in the middle of a 30-second step, so that a code is never made in one step and
# checked in the next (only the current step's code is accepted), and moved on only by
# `otp(steps_ahead=…)`. The `totp_clock` fixture of conftest.py sets it at each test.
TOTP_CLOCK = {"at": 0.0}


def stop_totp_clock() -> None:
    TOTP_CLOCK["at"] = (time.time() // STEP_SECONDS) * STEP_SECONDS + STEP_SECONDS / 2


def totp_now() -> float:
    return TOTP_CLOCK["at"]


def otp(secret: str | None, steps_ahead: int = 0) -> str:
    """The code of the current 30-second step; with `steps_ahead`, first let that many
    steps go by (for the phone and the server alike): only the current step's code is
    accepted, and a code is never accepted twice."""
    assert secret
    TOTP_CLOCK["at"] += steps_ahead * STEP_SECONDS
    return current_code(secret, totp_now())


def web_login(
    client: FlaskClient,
    username: str,
    password: str,
    code: str | None = None,
    next_url: str | None = None,
) -> TestResponse:
    page = client.get("/login")
    assert page.status_code == 200, page.status_code
    form = {
        "username": username,
        "password": password,
        "otp": code or "",
        "csrf_token": csrf_token(page.get_data(as_text=True)),
    }
    query = {"next": next_url} if next_url is not None else None
    return client.post("/login", data=form, query_string=query)


def post_form(client: FlaskClient, path: str, data: dict[str, Any]) -> TestResponse:
    """GET the page for its CSRF token, then POST the form to it."""
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    return client.post(path, data={**data, "csrf_token": csrf_token(page.get_data(as_text=True))})


def web_logout(client: FlaskClient) -> TestResponse:
    page = client.get("/")
    assert page.status_code == 200, page.status_code
    return client.post("/logout", data={"csrf_token": csrf_token(page.get_data(as_text=True))})


def api_login(
    client: FlaskClient, username: str, password: str, code: str | None = None
) -> TestResponse:
    body = {"username": username, "password": password}
    if code is not None:
        body["otp"] = code
    return client.post("/api/v1/auth/token", json=body)


def session_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie(SESSION_COOKIE)
    return cookie.value if cookie else None


def is_signed_in(client: FlaskClient) -> bool:
    """The dashboard answers 200 to a live session and redirects to /login otherwise."""
    response = client.get("/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302, response.status_code
    assert "/login" in response.headers["Location"]
    return False


def live_sessions(app: Flask, username: str) -> list[UserSession]:
    with app.app_context():
        stmt = (
            select(UserSession)
            .join(User)
            .where(User.username == username, UserSession.ended_at.is_(None))
        )
        rows = list(db.session.execute(stmt).scalars())
        for row in rows:
            db.session.expunge(row)
        return rows


def start_web_session(app: Flask, client: FlaskClient, username: str) -> str:
    """A live web session for `username` without going through the login form (and its
    TOTP code): what a successful login leaves behind. Returns the session's cookie id."""
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        token = start_session(db.session, user, "127.0.0.1", restricted=False)
        db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = token
        session["_fresh"] = True
    return token


def client_at(app: Flask, ip: str) -> FlaskClient:
    """A client whose requests come from `ip` (another machine, another network)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def device_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie("ruta_device")
    return cookie.value if cookie else None
