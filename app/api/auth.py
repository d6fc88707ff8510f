"""Bearer-token authentication for the API: default deny, with a short public allowlist."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, g, request
from werkzeug.exceptions import BadRequest, Unauthorized

from app.api import bp
from app.auth.models import ApiToken, User
from app.auth.service import token_and_user
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
    idle = current_app.config["RUTA_TOKEN_IDLE"]
    found = token_and_user(db.session, token, idle=idle) if token else None
    if found is None:
        raise Unauthorized("A valid bearer token is required.")
    g.api_token, g.api_user = found
    ring = current_app.extensions.get("ruta.keyring")
    if ring is not None:
        ring.refresh()


def current_api_user() -> User:
    return g.api_user


def current_api_token() -> ApiToken | None:
    return g.get("api_token")


def client_ip() -> str | None:
    return request.remote_addr


# NUL (PostgreSQL text cannot hold it) and lone surrogates (not encodable as UTF-8).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def _has_unstorable_text(data: Any) -> bool:
    pending = [data]
    while pending:  # iterative: the parser's nesting depth would overflow a recursive walk
        item = pending.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


@bp.before_request
def refuse_unusable_json() -> None:
    """A JSON body the parser or the database cannot take is a 400, never a 500."""
    if not request.is_json:
        return
    try:
        data = request.get_json(silent=True)  # cached for the view
    except RecursionError:
        raise BadRequest("The body is nested too deeply.") from None
    if _has_unstorable_text(data):
        raise BadRequest("The body contains characters that cannot be stored.")
