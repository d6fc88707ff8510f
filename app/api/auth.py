"""Bearer-token authentication for the API: default deny, with a short public allowlist."""

from __future__ import annotations

from flask import current_app, g, request
from werkzeug.exceptions import Unauthorized

from app.api import bp
from app.audit.service import Actor
from app.auth.models import User
from app.auth.service import user_for_token
from app.extensions import db

PUBLIC_ENDPOINTS = frozenset({"api.issue_token", "api.openapi", "api.survivor_status"})


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@bp.before_request
def require_token() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    token = bearer_token()
    user = user_for_token(db.session, token) if token else None
    if user is None:
        raise Unauthorized("A valid bearer token is required.")
    g.api_user = user
    ring = current_app.extensions.get("ruta.keyring")
    if ring is not None:
        ring.refresh()


def current_api_user() -> User:
    return g.api_user  # type: ignore[no-any-return]


def client_ip() -> str | None:
    return request.remote_addr


def actor_for(user: User) -> Actor:
    return Actor(user.id, user.username, user.institution.code, user.role, client_ip())
