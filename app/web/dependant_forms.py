"""The form of the case page that records one of her children or dependants."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, StringField
from wtforms.validators import Optional

from app.web.formtools import NEEDED, Select

EXPOSURE_CHOICES = [("unknown", _l("No se sabe")), ("yes", _l("Sí")), ("no", _l("No"))]


class DependantForm(FlaskForm):
    given_names = StringField(_l("Nombres"), NEEDED)
    family_names = StringField(_l("Apellidos (opcional)"))
    age = IntegerField(_l("Edad (años)"), validators=[Optional()])
    birth_year = IntegerField(_l("o año de nacimiento"), validators=[Optional()])
    relationship = Select(
        _l("Relación con ella"),
        NEEDED,
        choices=[
            ("son", _l("Hijo")),
            ("daughter", _l("Hija")),
            ("other", _l("Otra persona a su cargo")),
        ],
    )
    lives_with_her = RadioField(
        _l("¿Vive con ella?"),
        default="",
        choices=[("", _l("No se sabe")), ("yes", _l("Sí")), ("no", _l("No"))],
    )
    witnessed_violence = RadioField(
        _l("¿Presenció la violencia?"), default="unknown", choices=EXPOSURE_CHOICES
    )
    suffered_violence = RadioField(
        _l("¿Sufrió violencia?"), default="unknown", choices=EXPOSURE_CHOICES
    )


def dependant_choices(record: dict[str, Any]) -> list[tuple[str, str]]:
    """Her children as the referral form offers them (the names this view reads)."""
    return [("", _("Ella (la sobreviviente)"))] + [
        (row["id"], f"{row['given_names']} ({row['age_group'] or '?'})")
        for row in record.get("dependants") or []
    ]
