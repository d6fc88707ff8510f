"""The aggressor's form of the case page (post/redirect/get through `submit`)."""

from __future__ import annotations

from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.cases import aggressors
from app.cases.aggressor_schemas import AggressorIn
from app.core.ids import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db
from app.web.aggressor_forms import PREFIX, AggressorForm, aggressor_payload
from app.web.case_actions import bp
from app.web.formtools import load, submit, web_caller

SECTION = "agresores"


@bp.post("/cases/<case_id>/aggressors")
def add_aggressor(case_id: str) -> Response:
    form = AggressorForm(prefix=PREFIX)
    return submit(
        case_id,
        "aggressor_form",
        form,
        lambda: aggressors.add_aggressor(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            parse_uuid(form.incident_id.data or ""),
            load(AggressorIn, aggressor_payload(form)),
        ),
        SECTION,
        _("Agresor registrado."),
    )
