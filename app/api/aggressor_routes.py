"""The aggressor's record: recorded on an incident, corrected with the version read."""

from __future__ import annotations

from flask import Response

from app.api import bp
from app.api.helpers import answer, api_caller, json_body, load
from app.cases import aggressors
from app.cases.aggressor_schemas import AggressorIn, AggressorOut, AggressorUpdateIn
from app.core.ids import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db


@bp.post("/cases/<case_id>/incidents/<incident_id>/aggressors")
def add_aggressor(case_id: str, incident_id: str) -> Response:
    data = load(AggressorIn, json_body())
    shown = aggressors.add_aggressor(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), parse_uuid(incident_id), data
    )
    return answer(AggressorOut, shown, 201)


@bp.patch("/cases/<case_id>/aggressors/<aggressor_id>")
def update_aggressor(case_id: str, aggressor_id: str) -> Response:
    data = load(AggressorUpdateIn, json_body())
    shown = aggressors.update_aggressor(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), parse_uuid(aggressor_id), data
    )
    return answer(AggressorOut, shown)
