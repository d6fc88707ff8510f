"""Web forms of the administrators' catalogue pages. The rules (codes, lengths, what
exists) are the directory's (`app/directory/admin.py`); these only carry what was typed."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget

from app.directory.labels import INSTITUTION_KIND_LABELS
from app.directory.models import INSTITUTION_KINDS
from app.web.formtools import NEEDED, Select


class ServiceChecks(SelectMultipleField):
    """The services as checkboxes; unknown codes are refused by the directory, in Spanish."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form: object) -> None:
        return None


class InstitutionForm(FlaskForm):
    name = StringField(_l("Nombre"), NEEDED)
    address = StringField(_l("Dirección"))
    phone = StringField(_l("Teléfono"))
    hours = StringField(_l("Horario"))
    active = BooleanField(_l("Activa (recibe remisiones nuevas)"))
    services = ServiceChecks(_l("Servicios que presta"), choices=[])


class NewInstitutionForm(FlaskForm):
    code = StringField(
        _l("Código (mayúsculas, cifras y guiones; no cambia después)"),
        NEEDED,
        render_kw={"autocomplete": "off", "placeholder": "US-SON"},
    )
    name = StringField(_l("Nombre"), NEEDED)
    kind = Select(
        _l("Tipo"),
        NEEDED,
        choices=[("", "—"), *((k, INSTITUTION_KIND_LABELS[k]) for k in INSTITUTION_KINDS)],
    )
    municipality = Select(_l("Distrito"), NEEDED, choices=[])
    address = StringField(_l("Dirección"))
    phone = StringField(_l("Teléfono"))
    hours = StringField(_l("Horario"))
    services = ServiceChecks(_l("Servicios que presta"), choices=[])


class NewEntryForm(FlaskForm):
    """A new service or measure type."""

    code = StringField(
        _l("Código (minúsculas, cifras y guiones bajos; no cambia después)"),
        NEEDED,
        render_kw={"autocomplete": "off"},
    )
    name_es = StringField(_l("Nombre en español"), NEEDED)
    name_en = StringField(_l("Nombre en inglés"), NEEDED)


class EntryForm(FlaskForm):
    name_es = StringField(_l("Nombre en español"), NEEDED)
    name_en = StringField(_l("Nombre en inglés"), NEEDED)
    active = BooleanField(_l("Activo (se ofrece en los formularios)"))


class AliasesForm(FlaskForm):
    aliases = TextAreaField(_l("Otros nombres del distrito (uno por línea)"))
