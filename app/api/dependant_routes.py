"""Her children and dependants: recorded on her case and corrected with their version."""

from __future__ import annotations

from flask import Response

from app.api import bp
from app.api.helpers import answer, api_caller, json_body, load
from app.cases import dependants
from app.cases.dependant_schemas import DependantIn, DependantOut, DependantPatchIn
from app.cases.dependants import dependant_record
from app.cases.present import shaped
from app.core.ids import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db


@bp.post("/cases/<case_id>/dependants")
def add_dependant(case_id: str) -> Response:
    data = load(DependantIn, json_body())
    row = dependants.add_dependant(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), data
    )
    return answer(DependantOut, shaped(get_keyring(), db.session, row, dependant_record), 201)


@bp.patch("/cases/<case_id>/dependants/<dependant_id>")
def update_dependant(case_id: str, dependant_id: str) -> Response:
    data = load(DependantPatchIn, json_body())
    row = dependants.update_dependant(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), parse_uuid(dependant_id), data
    )
    return answer(DependantOut, shaped(get_keyring(), db.session, row, dependant_record))
