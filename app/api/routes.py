"""API endpoints. Each parses, calls one service, answers; the request commits once."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from werkzeug.exceptions import Unauthorized

from app.api import bp
from app.api.auth import client_ip, current_api_token
from app.api.helpers import answer, api_caller, json_body, load
from app.api.schemas import InstitutionListOut, TokenIn, TokenOut
from app.auth.login import TooManyAttempts, log_in_for_token, record_login_failure
from app.auth.service import AuthenticationFailed
from app.auth.sessions import revoke_token
from app.auth.throttle_store import login_throttle
from app.cases import corrections, incident_corrections
from app.cases import service as cases
from app.cases.corrections import Corrected
from app.cases.schemas import (
    CaseOut,
    CorrectedOut,
    IncidentCorrectionIn,
    IncidentCreatedOut,
    IncidentIn,
    IntakeIn,
    IntakeOut,
    SurvivorCorrectionIn,
    VoidedOut,
    VoidIn,
)
from app.core.ids import parse_uuid
from app.core.transaction import record_despite_failure
from app.crypto.service import get_keyring
from app.directory.service import list_institutions
from app.extensions import db, limiter
from app.referrals import service as referrals

# ---- authentication --------------------------------------------------------------------


@bp.post("/auth/token", endpoint="issue_token")
@limiter.limit("30 per minute")
def issue_token_endpoint() -> Response:
    data = load(TokenIn, json_body())
    ring, throttle, ip = get_keyring(), login_throttle(), client_ip() or "-"
    try:
        token, row = log_in_for_token(
            db.session,
            ring,
            throttle,
            username=data["username"],
            password=data["password"],
            otp=data.get("otp"),
            ip=ip,
            require_mfa=current_app.config["RUTA_REQUIRE_MFA"],
            lifetime=current_app.config["RUTA_TOKEN_LIFETIME"],
            max_sessions=current_app.config["RUTA_MAX_SESSIONS"],
        )
    except (AuthenticationFailed, TooManyAttempts) as error:
        failure = error  # the except name is unbound for closures
        record_despite_failure(
            lambda: record_login_failure(
                db.session, ring, throttle, data["username"], ip, "api", failure
            )
        )
        raise
    return answer(TokenOut, {"token": token, "expires_at": row.expires_at.isoformat()})


@bp.delete("/auth/token", endpoint="revoke_token")
def revoke_token_endpoint() -> Response:
    """The calling token ends now (a client signing out); audited as `logout`."""
    token = current_api_token()
    if token is None:  # require_token lets no request in without one
        raise Unauthorized("A valid bearer token is required.")
    revoke_token(db.session, get_keyring().audit_key, api_caller(), token.id)
    return Response(status=204)


# ---- directory -------------------------------------------------------------------------


@bp.get("/institutions")
def institutions() -> Response:
    return answer(InstitutionListOut, {"items": list_institutions(db.session)})


# ---- cases -----------------------------------------------------------------------------


@bp.post("/cases")
def open_case() -> Response:
    intake = load(IntakeIn, json_body())
    result = cases.open_case(
        db.session, get_keyring(), api_caller(), intake, current_app.config["RUTA_DEPARTMENT"]
    )
    payload: dict[str, Any] = {
        "id": str(result.case.id),
        "number": result.case.number,
        "matched_existing": result.matched_existing,
        "access": result.access,
    }
    if result.status_code:
        payload.update(status_code=result.status_code, status_pin=result.status_pin)
    return answer(IntakeOut, payload, 201)


@bp.get("/cases/<case_id>")
def read_case(case_id: str) -> Response:
    _, record, view = referrals.read_case(
        db.session,
        get_keyring(),
        api_caller(),
        parse_uuid(case_id),
        current_app.config["RUTA_DEPARTMENT"],
    )
    return answer(CaseOut, {**record, "access": view}, in_schema_order=True)


@bp.post("/cases/<case_id>/incidents")
def add_incident(case_id: str) -> Response:
    data = load(IncidentIn, json_body())
    incident = cases.add_incident(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), data
    )
    payload = {
        "id": str(incident.id),
        "case_id": str(incident.case_id),
        "occurred_on": incident.occurred_on.isoformat(),
        "violence_types": incident.violence_types,
        "gbvims_type": incident.gbvims_type,
    }
    return answer(IncidentCreatedOut, payload, 201)


# ---- corrections: with a reason and the version read; nothing is deleted ----------------


def _corrected(result: Corrected) -> Response:
    return answer(
        CorrectedOut,
        {
            "id": str(result.id),
            "version": result.version,
            "fields": list(result.fields),
            "correction_id": str(result.correction_id) if result.correction_id else None,
        },
    )


@bp.patch("/cases/<case_id>/survivor")
def correct_survivor(case_id: str) -> Response:
    data = load(SurvivorCorrectionIn, json_body())
    result = corrections.correct_survivor(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), data
    )
    return _corrected(result)


@bp.patch("/cases/<case_id>/incidents/<incident_id>")
def correct_incident(case_id: str, incident_id: str) -> Response:
    data = load(IncidentCorrectionIn, json_body())
    result = incident_corrections.correct_incident(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), parse_uuid(incident_id), data
    )
    return _corrected(result)


@bp.post("/cases/<case_id>/incidents/<incident_id>/void")
def void_incident(case_id: str, incident_id: str) -> Response:
    data = load(VoidIn, json_body())
    incident = incident_corrections.void_incident(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), parse_uuid(incident_id), data
    )
    voided_at = incident.voided_at.isoformat() if incident.voided_at else None
    return answer(VoidedOut, {"id": str(incident.id), "voided": True, "voided_at": voided_at})
