"""Flask-Login wiring: the cookie names a server-side session, default deny for pages."""

from __future__ import annotations

from flask import Flask, current_app, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from app.auth.devices import DEVICE_COOKIE_DAYS, DeviceProof
from app.auth.models import User
from app.auth.sessions import live_session
from app.extensions import db, login

# Pages anyone may open; everything else needs a live session.
PUBLIC_ENDPOINTS = frozenset(
    {"auth.login", "static", "public.status", "public.health", "public.favicon", "main.language"}
    | {"public.robots"}
)
# The only pages a user who has not finished setting up may open.
SETUP_ENDPOINTS = frozenset({"auth.change_password", "auth.enrol", "auth.logout", "static"})


def clear_session() -> None:
    """Start the browser's session afresh, keeping only the chosen language: it is no
    secret, and the pages should not switch back to Spanish at sign-in or sign-out."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language


def sign_in(user: User, token: str) -> None:
    """Hand the browser a fresh session that names the server-side one behind `token`."""
    clear_session()  # nothing from before survives but the language
    user.session_token = token
    login_user(user)


def sign_out() -> None:
    logout_user()
    clear_session()


def device_cookie_name() -> str:
    # __Host- with Secure, like the session cookie: no subdomain or HTTP page can plant it.
    secure = current_app.config.get("SESSION_COOKIE_SECURE", False)
    return "__Host-ruta_device" if secure else "ruta_device"


def device_proof() -> DeviceProof:
    return DeviceProof(current_app.config["SECRET_KEY"], request.cookies.get(device_cookie_name()))


def remember_device(response: Response, value: str | None) -> Response:
    """The device cookie the login throttle trusts: it outlives sessions (180 days)."""
    if value:
        response.set_cookie(
            device_cookie_name(),
            value,
            max_age=DEVICE_COOKIE_DAYS * 86400,
            path="/",
            secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
            httponly=True,
            samesite="Strict",
        )
    return response


@login.user_loader
def load_user(token: str) -> User | None:
    # A session that ran out is ended here; the request's commit keeps that.
    record = live_session(
        db.session,
        token,
        current_app.config["RUTA_IDLE_TIMEOUT"],
        current_app.config["RUTA_SESSION_LIFETIME"],
    )
    if record is None:
        return None
    user = record.user
    user.web_session = record
    user.session_token = token
    return user


def require_login() -> Response | None:
    endpoint = request.endpoint or ""
    # The API authenticates with tokens and answers JSON, unknown paths included.
    if request.path.startswith("/api/") or endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        clear_session()
        return redirect(
            url_for("auth.login", next=request.path if request.method == "GET" else None)
        )
    if current_user.web_session.restricted and endpoint not in SETUP_ENDPOINTS:
        return redirect(
            url_for("auth.change_password" if current_user.must_change_password else "auth.enrol")
        )
    return None


def init_web_login(app: Flask) -> None:
    login.login_view = "auth.login"
    login.login_message = None
    login.session_protection = "basic"
    app.before_request(require_login)
