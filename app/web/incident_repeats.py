"""The case page's small form that marks an incident as the same event reported again
(app/cases/repeats.py), on the case corrections' blueprint."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField, SelectField

from app.cases import repeats
from app.cases.schemas import RepeatIn
from app.core.ids import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db
from app.web.case_corrections import bp
from app.web.formtools import blank_to_none, load, web_caller
from app.web.formtools import submit as submit_on_case


class RepeatForm(FlaskForm):
    # Choices are the case's earlier incidents, drawn by the page; the service checks them.
    repeat_of = SelectField(_l("Es una nueva denuncia del mismo hecho que"), validate_choice=False)
    version = HiddenField()


@bp.post("/cases/<case_id>/incidents/<incident_id>/repeat-of")
def link_repeat(case_id: str, incident_id: str) -> Response:
    form = RepeatForm()
    return submit_on_case(
        case_id,
        "repeat_form",
        form,
        lambda: repeats.link_repeat(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            parse_uuid(incident_id),
            load(
                RepeatIn,
                {"repeat_of": blank_to_none(form.repeat_of.data), "version": form.version.data},
            ),
        ),
        "hechos",
        _("Guardado. Un hecho denunciado otra vez se cuenta una sola vez."),
    )
