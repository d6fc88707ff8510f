"""The JSON API, `/api/v1`: bearer tokens, marshmallow schemas, the same services as the web."""

from flask import Blueprint, Flask

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from app.api import (  # noqa: E402,F401  (register the views)
    aggressor_routes,
    audit_routes,
    auth,
    care_routes,
    caseload_routes,
    contact_routes,
    dependant_routes,
    errors,
    join_routes,
    justice_routes,
    merge_routes,
    openapi,
    referral_routes,
    repeat_routes,
    report_routes,
    retention_routes,
    routes,
    search_routes,
    status_routes,
    transfer_routes,
)


def register_api(app: Flask) -> None:
    from app.extensions import csrf

    csrf.exempt(bp)  # bearer tokens, not cookies: no CSRF exposure
    app.register_blueprint(bp)
