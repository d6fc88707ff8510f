"""Forms of the justice pathway on the case page: they keep what was typed; the schemas
and services in app/cases decide."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField, TextAreaField

from app.web.formtools import Select

MOVE_LABELS = {
    "forward": _l("Remitir a la Fiscalía"),
    "file_requerimiento": _l("Presentar requerimiento fiscal"),
    "sentence": _l("Registrar sentencia"),
    "dismiss": _l("Registrar sobreseimiento"),
    "schedule_hearing": _l("Primera audiencia programada"),
}
STATUS_LABELS = {
    "received": _l("Recibida"),
    "forwarded": _l("Remitida a la Fiscalía"),
    "requerimiento": _l("Con requerimiento fiscal"),
    "hearings": _l("En audiencias"),
    "sentenced": _l("Con sentencia"),
    "dismissed": _l("Sobreseída"),
}
HEARING_KIND_LABELS = {
    "initial": _l("Audiencia inicial"),
    "preliminary": _l("Audiencia preliminar"),
    "sentencing": _l("Vista pública (de sentencia)"),
    "measures": _l("Audiencia de medidas"),
}
HEARING_OUTCOME_LABELS = {
    "held": _l("Celebrada"),
    "postponed": _l("Reprogramada"),
    "suspended": _l("Suspendida"),
}


class ComplaintMoveForm(FlaskForm):
    # Any code is posted on to the service: asked for, conciliation is refused there
    # with the reason the law gives, not with "not a valid choice".
    action = Select(_l("Paso"), choices=list(MOVE_LABELS.items()))
    moved_on = StringField(_l("Fecha del paso"))
    version = HiddenField()


class FileNumbersForm(FlaskForm):
    fgr_number = StringField(_l("Número de expediente fiscal"))
    court_number = StringField(_l("Número de expediente judicial"))
    version = HiddenField()


class HearingForm(FlaskForm):
    starts_at = StringField(_l("Fecha y hora"))
    court_id = Select(_l("Juzgado"), choices=[])
    kind = Select(_l("Tipo de audiencia"), choices=list(HEARING_KIND_LABELS.items()))
    version = HiddenField()


class HearingOutcomeForm(FlaskForm):
    outcome = Select(_l("Resultado"), choices=list(HEARING_OUTCOME_LABELS.items()))
    note = TextAreaField(_l("Nota"))
    version = HiddenField()


class HearingNoticeForm(FlaskForm):
    show_hearings_in_status = BooleanField(
        _l("Ella quiere ver la fecha y hora de su próxima audiencia en la consulta de su caso")
    )
