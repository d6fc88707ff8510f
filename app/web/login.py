"""Flask-Login wiring: the cookie names a server-side session, default deny for pages."""

from __future__ import annotations

import re

from flask import Flask, current_app, flash, jsonify, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from app.auth.devices import DEVICE_COOKIE_DAYS, DeviceProof
from app.auth.models import User
from app.auth.sessions import ended_by_idleness, live_session
from app.extensions import db, login

# Pages anyone may open; everything else needs a live session.
PUBLIC_ENDPOINTS = frozenset(
    {
        "auth.login",
        "static",
        "public.status",
        "public.health",
        "public.favicon",
        "main.language",
        "public.robots",
        # Reads the session's time left without using it (app/web/session.py).
        "session.status",
    }
)
# The only pages a user who has not finished setting up may open.
SETUP_ENDPOINTS = frozenset(
    {"auth.change_password", "auth.enrol", "auth.logout", "static", "session.ping"}
)
# What a sign-in may return to: a path of plain characters, no query (identifiers never
# travel in URLs), and not a `//host` (nor `/\host`, which a browser reads as one).
_RETURN_PATH = re.compile(r"/(?!/)[A-Za-z0-9/_.-]{0,300}")
# Paths that are not a page to come back to.
_NOT_PAGES = frozenset({"auth.login", "auth.logout", "static", "public.health", "public.favicon"})


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


def _page_endpoint(path: str) -> str | None:
    """The endpoint a GET of `path` reaches on this site, if `path` is a clean one."""
    if not _RETURN_PATH.fullmatch(path) or path.startswith("/api/"):  # the API is no page
        return None
    try:
        endpoint, _args = current_app.url_map.bind("localhost").match(path, method="GET")
    except HTTPException:  # not found, not a GET, or a redirect
        return None
    return str(endpoint)


def _is_page(endpoint: str | None) -> bool:
    return (
        bool(endpoint) and endpoint not in _NOT_PAGES and not str(endpoint).startswith("session.")
    )


def safe_next(target: str | None) -> str:
    """Where a sign-in goes on to: a page of this site named by `next`, or the dashboard.
    Anything else (another site, a query string, an unknown path) is an open redirect
    that would help a phishing page, or a URL carrying what it should not."""
    endpoint = _page_endpoint(target) if target else None
    # The page's sign-in panel returns to the session's JSON state (app/web/session.py).
    if target and (_is_page(endpoint) or endpoint == "session.status"):
        return target
    return url_for("main.dashboard")


def return_path(path: str, method: str) -> str | None:
    """The page to come back to after signing in again: a page asked for is itself; a
    form posted returns to the nearest page at or above its address (what it sent is
    gone, and is never sent again)."""
    while path:
        if _is_page(_page_endpoint(path)):
            return None if path == "/" else path
        if method == "GET":
            return None
        path = path.rsplit("/", 1)[0]
    return None


def _signed_out(endpoint: str) -> Response:
    """A request without a live session. One that ended for idleness says so on /login;
    a page's script (the keep-alive) is answered 401, and shows its own sign-in panel."""
    token = session.get("_user_id")
    idle = current_app.config["RUTA_IDLE_TIMEOUT"]
    went_idle = bool(token) and ended_by_idleness(db.session, str(token), idle)
    clear_session()
    if endpoint.startswith("session."):
        answer = jsonify(error="session_ended", seconds_left=0)
        answer.status_code = 401
        return answer
    if went_idle:
        flash(_("Su sesión se cerró por inactividad."), "info")
    return redirect(url_for("auth.login", next=return_path(request.path, request.method)))


def require_login() -> Response | None:
    endpoint = request.endpoint or ""
    # The API authenticates with tokens and answers JSON, unknown paths included.
    if request.path.startswith("/api/") or endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return _signed_out(endpoint)
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
