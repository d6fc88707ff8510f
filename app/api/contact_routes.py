"""Her safe-contact protocol and access needs: each replaced whole, with the version read."""

from __future__ import annotations

from flask import Response

from app.api import bp
from app.api.helpers import api_caller, json_body, load
from app.api.routes import _corrected
from app.cases import contact
from app.cases.schemas import AccessNeedsIn, SafeContactIn
from app.core.ids import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db


@bp.put("/cases/<case_id>/safe-contact")
def set_safe_contact(case_id: str) -> Response:
    data = load(SafeContactIn, json_body())
    result = contact.set_safe_contact(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), data
    )
    return _corrected(result)


@bp.put("/cases/<case_id>/access-needs")
def set_access_needs(case_id: str) -> Response:
    data = load(AccessNeedsIn, json_body())
    result = contact.set_access_needs(
        db.session, get_keyring(), api_caller(), parse_uuid(case_id), data
    )
    return _corrected(result)
