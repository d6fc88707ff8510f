"""The JSON API, `/api/v1`: bearer tokens, marshmallow schemas, the same services as the web."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from app.api import audit_routes, auth, errors, openapi, routes  # noqa: E402,F401  (register)
