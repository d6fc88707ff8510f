"""Linking an incident to the earlier one it reports again (counted once)."""

from __future__ import annotations

from flask import Response

from app.api import bp
from app.api.helpers import answer, api_caller, json_body, load
from app.cases import repeats
from app.cases.schemas import RepeatIn, RepeatOut
from app.core.ids import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db


@bp.post("/cases/<case_id>/incidents/<incident_id>/repeat-of")
def link_repeat(case_id: str, incident_id: str) -> Response:
    data = load(RepeatIn, json_body())
    incident = repeats.link_repeat(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), parse_uuid(incident_id), data
    )
    original = str(incident.repeat_of_id) if incident.repeat_of_id else None
    return answer(
        RepeatOut, {"id": str(incident.id), "repeat_of": original, "version": incident.version}
    )
