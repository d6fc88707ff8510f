"""The form of the aggressor on the case page: it renders and keeps input; the schema
(app/cases/aggressor_schemas.py) and the service check it."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import Optional

from app.cases.aggressor_schemas import AGE_GROUP_CODES
from app.cases.vocab import RELATIONSHIPS, SEXES
from app.directory import service as directory
from app.extensions import db
from app.web.case_forms import YES_NO_UNKNOWN, _choices
from app.web.formtools import NEEDED, Select, blank_to_none

PREFIX = "ag-"  # the case page holds many forms: his fields' ids are his own
TRI_STATE = {"yes": True, "no": False}
SEALED_TEXT = ("given_names", "family_names", "dui", "alias", "notes")
CODES = ("sex", "age_group", "relationship", "previous_complaints")
YES_NO = ("lives_with_her", "has_firearm", "firearm_licence")


class AggressorForm(FlaskForm):
    incident_id = Select(_l("Hecho"), NEEDED, choices=[])
    given_names = StringField(_l("Nombres del agresor"))
    family_names = StringField(_l("Apellidos del agresor"))
    dui = StringField(_l("DUI del agresor"))
    birth_date = DateField(_l("Fecha de nacimiento del agresor"), validators=[Optional()])
    alias = StringField(_l("Alias"))
    notes = TextAreaField(_l("Notas sobre el agresor"))
    sex = Select(_l("Sexo del agresor"), choices=_choices(SEXES, blank=True))
    age_group = Select(
        _l("Grupo de edad del agresor"), choices=[("", "—"), *((c, c) for c in AGE_GROUP_CODES)]
    )
    relationship = Select(
        _l("Relación con ella"), NEEDED, choices=_choices(RELATIONSHIPS, blank=True)
    )
    lives_with_her = Select(_l("Vive con ella"), choices=[("", "—"), *YES_NO_UNKNOWN])
    has_firearm = Select(_l("Tiene arma de fuego"), choices=[("", "—"), *YES_NO_UNKNOWN])
    firearm_licence = Select(_l("Tiene licencia de arma"), choices=[("", "—"), *YES_NO_UNKNOWN])
    previous_complaints = Select(_l("Denuncias anteriores"), choices=YES_NO_UNKNOWN)
    works_at_institution_id = Select(_l("Trabaja en una institución de la red"), choices=[])


def aggressor_form(record: dict[str, Any], form: AggressorForm | None = None) -> AggressorForm:
    """The form with the incidents this caller reads (not voided) and the network."""
    form = form or AggressorForm(formdata=None, prefix=PREFIX)
    form.incident_id.choices = [
        (incident["id"], incident["occurred_on"])
        for incident in record.get("incidents") or []
        if not incident.get("voided")
    ]
    form.works_at_institution_id.choices = [
        ("", _l("No / no se sabe")),
        *directory.receiver_choices(db.session),
    ]
    return form


def aggressor_payload(form: AggressorForm) -> dict[str, Any]:
    """What the schema loads: blanks left out, yes/no/unknown as true/false/null."""
    data: dict[str, Any] = {}
    for name in (*SEALED_TEXT, *CODES):
        value = blank_to_none((getattr(form, name).data or "").strip())
        if value is not None:
            data[name] = value
    for name in YES_NO:
        data[name] = TRI_STATE.get(getattr(form, name).data or "")
    if form.birth_date.data:
        data["birth_date"] = form.birth_date.data.isoformat()
    workplace = blank_to_none(form.works_at_institution_id.data)
    if workplace is not None:
        data["works_at_institution_id"] = int(workplace) if str(workplace).isdigit() else workplace
    return data
