"""API endpoints. Each parses, authorises through the service, commits once, answers."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request

from app.api import bp
from app.api.auth import client_ip, current_api_user
from app.api.helpers import answer, audit, json_body, load
from app.api.schemas import InstitutionListOut, TokenIn, TokenOut
from app.auth.login import TooManyAttempts, log_in, record_login_failure
from app.auth.service import AuthenticationFailed, issue_token
from app.auth.throttle_store import login_throttle
from app.cases import access
from app.cases import service as cases
from app.cases.records import case_summary
from app.cases.schemas import (
    CaseListOut,
    CaseOut,
    IncidentCreatedOut,
    IncidentIn,
    IntakeIn,
    IntakeOut,
    SearchIn,
)
from app.common import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db, limiter
from app.referrals.directory import list_institutions

# ---- authentication --------------------------------------------------------------------


@bp.post("/auth/token", endpoint="issue_token")
@limiter.limit("30 per minute")
def issue_token_endpoint() -> Response:
    data = load(TokenIn, json_body())
    ring, throttle, ip = get_keyring(), login_throttle(), client_ip() or "-"
    try:
        outcome = log_in(
            db.session,
            ring,
            throttle,
            username=data["username"],
            password=data["password"],
            otp=data.get("otp"),
            ip=ip,
            require_mfa=current_app.config["RUTA_REQUIRE_MFA"],
            channel="api",
        )
    except (AuthenticationFailed, TooManyAttempts) as error:
        db.session.rollback()
        record_login_failure(
            db.session,
            ring,
            throttle,
            data["username"],
            ip,
            "api",
            throttled=isinstance(error, TooManyAttempts),
        )
        db.session.commit()
        raise
    token, row = issue_token(db.session, outcome.user, current_app.config["RUTA_TOKEN_LIFETIME"])
    db.session.commit()
    return answer(TokenOut, {"token": token, "expires_at": row.expires_at.isoformat()})


# ---- directory -------------------------------------------------------------------------


@bp.get("/institutions")
def institutions() -> Response:
    return answer(InstitutionListOut, {"items": list_institutions(db.session)})


# ---- cases -----------------------------------------------------------------------------


@bp.post("/cases")
def open_case() -> Response:
    intake = load(IntakeIn, json_body())
    user = current_api_user()
    result = cases.open_case(
        db.session, get_keyring(), user, intake, current_app.config["RUTA_DEPARTMENT"]
    )
    action = "case_update" if result.matched_existing else "case_create"
    audit(
        action,
        object_type="case",
        object_id=result.case.id,
        case_id=result.case.id,
        detail="matched_intake" if result.matched_existing else "opened",
    )
    db.session.commit()
    payload: dict[str, Any] = {
        "id": str(result.case.id),
        "number": result.case.number,
        "matched_existing": result.matched_existing,
    }
    if result.status_code:
        payload.update(status_code=result.status_code, status_pin=result.status_pin)
    return answer(IntakeOut, payload, 201)


@bp.get("/cases")
def search_cases() -> Response:
    query = load(SearchIn, request.args.to_dict())
    found = cases.search_cases(db.session, get_keyring(), current_api_user(), **query)
    audit("case_search", object_type="case", detail=f"results={len(found)}")
    items = [case_summary(case) for case in found]  # before the commit expires the rows
    db.session.commit()
    return answer(CaseListOut, {"items": items})


@bp.get("/cases/<case_id>")
def read_case(case_id: str) -> Response:
    case, record, view = access.read_case(
        db.session,
        get_keyring(),
        current_api_user(),
        parse_uuid(case_id),
        current_app.config["RUTA_DEPARTMENT"],
    )
    # The read is on the record, committed, before a byte of the case leaves the server.
    audit("case_view", object_type="case", object_id=case.id, case_id=case.id, detail=view)
    db.session.commit()
    return answer(CaseOut, {**record, "access": view})


@bp.post("/cases/<case_id>/incidents")
def add_incident(case_id: str) -> Response:
    data = load(IncidentIn, json_body())
    incident = cases.add_incident(
        db.session, get_keyring(), current_api_user(), parse_uuid(case_id), data
    )
    audit(
        "case_update",
        object_type="incident",
        object_id=incident.id,
        case_id=incident.case_id,
        detail="incident_added",
    )
    payload = {
        "id": str(incident.id),
        "case_id": str(incident.case_id),
        "occurred_on": incident.occurred_on.isoformat(),
        "violence_types": incident.violence_types,
        "gbvims_type": incident.gbvims_type,
    }
    db.session.commit()
    return answer(IncidentCreatedOut, payload, 201)
