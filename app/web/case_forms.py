"""Web forms of the case pages. They render and keep input; the rules live in the
marshmallow schemas and the services, which the views run on the submitted data."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.cases.care import CHANNELS, CLOSE_REASONS, FOLLOW_UP_OUTCOMES, NOTE_KINDS, REOPEN_REASONS
from app.cases.contact_data import DISABILITIES, LANGUAGES, LITERACY, PEOPLES
from app.cases.risk import QUESTION_KEYS, QUESTIONS
from app.cases.vocab import (
    MODALITIES,
    PLACE_TYPES,
    RELATIONSHIPS,
    SEXES,
    VIOLENCE_TYPES,
    WEAPONS,
)
from app.web.formtools import NEEDED, Select

NOTE_KIND_LABELS = {
    "medical": _l("Médica"),
    "forensic": _l("Forense"),
    "psychological": _l("Psicológica"),
    "legal": _l("Jurídica"),
    "social": _l("Social"),
    "shelter": _l("Albergue"),
}
CHANNEL_LABELS = {"visit": _l("Visita"), "phone": _l("Teléfono"), "office": _l("En oficina")}
OUTCOME_LABELS = {
    "done": _l("Realizado"),
    "no_contact": _l("Sin contacto"),
    "rescheduled": _l("Reprogramado"),
    "cancelled": _l("Cancelado"),
}
CLOSE_LABELS = {
    "services_completed": _l("Servicios completados"),
    "survivor_request": _l("A pedido de la sobreviviente"),
    "lost_contact": _l("Se perdió el contacto"),
    "moved": _l("Se mudó"),
    "deceased": _l("Falleció"),
    "other": _l("Otro motivo"),
}
YES_NO_UNKNOWN = [("yes", _l("Sí")), ("no", _l("No")), ("unknown", _l("No sabe"))]


def _choices(
    codes: dict[str, str] | tuple[str, ...], labels: dict | None = None, blank: bool = False
) -> list[tuple[str, object]]:
    names = labels or (codes if isinstance(codes, dict) else {})
    items = [(code, _l(str(names.get(code, code)))) for code in codes]  # shown translated
    return [("", "—"), *items] if blank else items


class MultiCheckbox(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# Fields are declared in the order of the page: WTForms iterates them by creation, and
# the error summary at the top of a form lists them that way.
class SurvivorFields(FlaskForm):
    given_names = StringField(_l("Nombres"), NEEDED, render_kw={"autocomplete": "off"})
    family_names = StringField(_l("Apellidos"), NEEDED, render_kw={"autocomplete": "off"})
    dui = StringField(
        _l("DUI (si lo tiene)"), render_kw={"placeholder": "########-#", "autocomplete": "off"}
    )
    birth_date = DateField(_l("Fecha de nacimiento"), validators=[Optional(), *NEEDED])
    sex = Select(_l("Sexo"), NEEDED, choices=_choices(SEXES, blank=True))
    municipality = Select(_l("Municipio de residencia"), NEEDED, choices=[])
    phone = StringField(_l("Teléfono"), render_kw={"autocomplete": "off"})
    address = StringField(_l("Dirección"), render_kw={"autocomplete": "off"})
    safe_contact = TextAreaField(_l("Contacto seguro (cómo y cuándo llamarla)"))


# "Not asked" is not "no": an empty answer stays unknown, never a refusal.
ASKED = [("", _l("Sin preguntar")), ("yes", _l("Sí")), ("no", _l("No"))]
NOT_ASKED = [("", _l("Sin preguntar"))]


class ContactProtocolFields(FlaskForm):
    """Her safe-contact protocol, in the order a worker asks it."""

    may_call = Select(_l("¿Se la puede llamar?"), choices=ASKED)
    call_times = StringField(
        _l("Cuándo se la puede llamar"),
        render_kw={"placeholder": _l("lunes a viernes de 9 a 12"), "autocomplete": "off"},
    )
    may_text = Select(_l("¿Se le pueden enviar mensajes de texto?"), choices=ASKED)
    may_leave_message = Select(_l("¿Se le pueden dejar mensajes de voz?"), choices=ASKED)
    may_visit = Select(_l("¿Se la puede visitar?"), choices=ASKED)
    phone_watched_by_aggressor = Select(
        _l("¿El agresor usa o revisa este teléfono?"), choices=[*NOT_ASKED, *YES_NO_UNKNOWN]
    )
    code_word = StringField(_l("Palabra clave"), render_kw={"autocomplete": "off"})
    cover_story = TextAreaField(_l("Qué decir si contesta otra persona"))
    notes = TextAreaField(_l("Otras indicaciones para contactarla"))


class AccessNeedsFields(FlaskForm):
    """Her access needs, so that the next institution prepares before she comes."""

    language = Select(
        _l("Idioma en que prefiere ser atendida"), choices=_choices(LANGUAGES, blank=True)
    )
    language_other = StringField(_l("Si es otro idioma, cuál"))
    interpreter_needed = Select(_l("¿Necesita intérprete?"), choices=ASKED)
    literacy = Select(_l("Lectura y escritura"), choices=_choices(LITERACY, blank=True))
    disability = MultiCheckbox(_l("Discapacidad"), choices=_choices(DISABILITIES))
    adjustments = TextAreaField(_l("Ajustes razonables que necesita"))
    indigenous_people = Select(
        _l("Pueblo indígena (opcional)"), choices=_choices(PEOPLES, blank=True)
    )
    nationality = StringField(_l("Nacionalidad (opcional)"))
    nationality_withheld = BooleanField(_l("Prefiere no decir su nacionalidad"))


class IncidentFields(FlaskForm):
    occurred_on = DateField(_l("Fecha del hecho"), validators=[Optional(), *NEEDED])
    incident_municipality = Select(_l("Municipio del hecho"), NEEDED, choices=[])
    place_type = Select(_l("Lugar"), choices=_choices(PLACE_TYPES, blank=True))
    perpetrator_relationship = Select(
        _l("Relación con el agresor"), NEEDED, choices=_choices(RELATIONSHIPS, blank=True)
    )
    weapon = Select(_l("Arma"), choices=_choices(WEAPONS, blank=True))
    modality = Select(_l("Modalidad (LEIV art. 10)"), choices=_choices(MODALITIES, blank=True))
    violence_types = MultiCheckbox(
        _l("Tipos de violencia (LEIV)"), NEEDED, choices=_choices(VIOLENCE_TYPES)
    )
    penetration = BooleanField(_l("Hubo penetración (violencia sexual)"))
    children_present = BooleanField(_l("Había niñas o niños presentes"))
    perpetrator_details = TextAreaField(_l("Datos del agresor"))
    narrative = TextAreaField(_l("Relato"))
    strangulation = BooleanField(
        _l("La estranguló, asfixió o intentó ahogarla (el caso pasa a riesgo alto)")
    )
    # Shown when the record already has an incident of that day and type (409).
    confirm_new = BooleanField(_l("Confirmo que es un hecho distinto, no el mismo otra vez"))


class IntakeForm(SurvivorFields, ContactProtocolFields, AccessNeedsFields, IncidentFields):
    share_with_network = BooleanField(_l("Acepta que se remita y se comparta con la red"))
    statistics = BooleanField(_l("Acepta que se cuente en estadísticas anónimas"))
    police = BooleanField(_l("Acepta compartir con la policía o la fiscalía"))


class IncidentForm(IncidentFields):
    pass


class NoteForm(FlaskForm):
    kind = Select(_l("Tipo de atención"), NEEDED, choices=_choices(NOTE_KINDS, NOTE_KIND_LABELS))
    given_on = DateField(_l("Fecha"), validators=[Optional()])
    text = TextAreaField(_l("Nota"), NEEDED)
    confidential = BooleanField(_l("Confidencial: solo mi institución podrá leerla"))


class FollowUpForm(FlaskForm):
    due_on = DateField(_l("Fecha prevista"), validators=[Optional(), *NEEDED])
    channel = Select(_l("Medio"), NEEDED, choices=_choices(CHANNELS, CHANNEL_LABELS))


class FollowUpOutcomeForm(FlaskForm):
    outcome = Select(_l("Resultado"), NEEDED, choices=_choices(FOLLOW_UP_OUTCOMES, OUTCOME_LABELS))
    note = TextAreaField(_l("Observación"))
    version = HiddenField()


class SafetyPlanForm(FlaskForm):
    # Own ids: the case page holds several forms, and "plan" is its section's anchor.
    plan = TextAreaField(_l("Plan de seguridad"), NEEDED, id="safety_plan")
    version = HiddenField()


REOPEN_LABELS = {
    "new_incident": _l("Un hecho nuevo"),
    "new_information": _l("Información nueva"),
    "survivor_request": _l("A pedido de la sobreviviente"),
    "closed_in_error": _l("Se cerró por error"),
    "other": _l("Otro motivo (explíquelo)"),
}


class StatusForm(FlaskForm):
    status = Select(
        _l("Nuevo estado"),
        NEEDED,
        choices=[
            ("open", _l("Abierto")),
            ("follow_up", _l("En seguimiento")),
            ("closed", _l("Cerrado")),
        ],
    )
    reason = Select(
        _l("Motivo de cierre"),
        id="close_reason",  # the referral form on the same page has its own "reason"
        choices=_choices(CLOSE_REASONS, CLOSE_LABELS, blank=True),
    )
    reopen_reason = Select(
        _l("Motivo para reabrir"), choices=_choices(REOPEN_REASONS, REOPEN_LABELS, blank=True)
    )
    reopen_note = TextAreaField(_l("Explique (si no está en la lista)"))
    version = HiddenField()


class SurvivorCorrectionForm(SurvivorFields):
    """Her identity and contact as they are, to correct; drawn with the prefix `fix-`
    beside the case page's other forms."""

    reason = TextAreaField(_l("Motivo de la corrección"), NEEDED)
    version = HiddenField()


class SafeContactForm(ContactProtocolFields):
    """The protocol on the case page, drawn with the prefix `sc-`."""

    reason = TextAreaField(_l("Motivo del cambio (opcional)"))
    version = HiddenField()


class AccessNeedsForm(AccessNeedsFields):
    """Her needs on the case page, drawn with the prefix `an-`."""

    reason = TextAreaField(_l("Motivo del cambio (opcional)"))
    version = HiddenField()


class IncidentCorrectionForm(IncidentFields):
    reason = TextAreaField(_l("Motivo de la corrección"), NEEDED, id="correction_reason")
    version = HiddenField()
    # A box left unticked says "no" only where it was ticked before; otherwise an
    # unknown (never asked) stays unknown.
    penetration_was = HiddenField()
    children_present_was = HiddenField()


class VoidForm(FlaskForm):
    reason = TextAreaField(_l("Motivo de la anulación"), NEEDED)


class ConsentForm(FlaskForm):
    share_with_network = BooleanField(_l("Remitir y compartir con la red"))
    statistics = BooleanField(_l("Estadísticas anónimas"))
    police = BooleanField(_l("Compartir con la policía o la fiscalía"))


class ReferralForm(FlaskForm):
    to_institution = Select(_l("Institución que recibe"), NEEDED, choices=[])
    service = Select(_l("Servicio"), NEEDED, choices=[])
    urgency = RadioField(
        _l("Urgencia"),
        default="routine",
        choices=[
            ("immediate", _l("Inmediata (el mismo día)")),
            ("priority", _l("Prioritaria (3 días)")),
            ("routine", _l("Ordinaria (10 días)")),
        ],
    )
    reason = TextAreaField(_l("Motivo de la remisión"))
    consent = BooleanField(_l("La sobreviviente dio su consentimiento para esta remisión"))
    dependant_id = Select(_l("Para quién"), choices=[])


class ComplaintForm(FlaskForm):
    number = StringField(_l("Número de denuncia"), NEEDED)
    filed_on = DateField(_l("Fecha de la denuncia"), validators=[Optional()])
    forward_to_prosecutor = BooleanField(_l("Desea que se remita a la Fiscalía (FGR)"))
    measure = Select(_l("Medida de protección solicitada"), choices=[])
    granted = BooleanField(_l("Otorgada"))
    court = StringField(_l("Juzgado"))
    starts_on = DateField(_l("Desde"), validators=[Optional()])
    ends_on = DateField(_l("Hasta"), validators=[Optional()])


class MeasureForm(FlaskForm):
    status = Select(
        _l("Estado"),
        choices=[
            ("requested", _l("Solicitada")),
            ("denied", _l("Denegada")),
            ("active", _l("Vigente")),
            ("expired", _l("Vencida")),
            ("revoked", _l("Revocada")),
            ("breached", _l("Incumplida")),
        ],
    )
    version = HiddenField()


class AttachmentForm(FlaskForm):
    file = FileField(_l("Archivo (PDF, JPEG o PNG, hasta 20 MB)"), NEEDED)
    description = StringField(_l("Descripción"))


class BreakGlassForm(FlaskForm):
    reason = TextAreaField(_l("Motivo del acceso de emergencia"), NEEDED)
    password = StringField(
        _l("Su contraseña"),
        NEEDED,
        render_kw={"type": "password", "autocomplete": "current-password"},
    )


class LegalHoldForm(FlaskForm):
    reason = TextAreaField(
        _l("Motivo de la retención legal (o de levantarla)"), NEEDED, id="hold_reason"
    )


class ErasureForm(FlaskForm):
    legal_basis = SelectField(
        _l("Base legal"),
        NEEDED,
        choices=[
            ("consent_withdrawn", _l("Retiró su consentimiento y pide la supresión")),
            ("no_longer_needed", _l("Los datos ya no son necesarios para su fin")),
            ("unlawful", _l("Los datos se trataron sin base legal")),
            ("other", _l("Otra base legal (explíquela en el motivo)")),
        ],
    )
    reason = TextAreaField(_l("Lo que ella pidió, y cuándo"), NEEDED, id="erasure_reason")


class SearchForm(FlaskForm):
    """Posted, never sent as a query string: a URL with a DUI or a name would stay in
    access logs and in the browser's history (CSRF on, as for every POST)."""

    name_like = StringField(_l("Nombre o parte del nombre"), render_kw={"autocomplete": "off"})
    birth_year = IntegerField(_l("Año de nacimiento (opcional)"), validators=[Optional()])
    dui = StringField(_l("DUI"))
    name = StringField(_l("Nombre completo"))
    birth_date = DateField(_l("Fecha de nacimiento"), validators=[Optional()])
    number = StringField(_l("Número de expediente"))
    phone = StringField(_l("Teléfono"), render_kw={"autocomplete": "off"})


class MergeForm(FlaskForm):
    absorb = HiddenField()
    reason = TextAreaField(_l("Por qué son la misma persona"), id="merge_reason")


class RiskForm(FlaskForm):
    """The 24 answers are radio groups q1…q24 (added below) with nothing chosen: "No
    sabe" is an answer she gives, never a default, so an untouched form saves nothing."""

    judgement_high = BooleanField(_l("Por criterio profesional, el riesgo es alto"))
    judgement_reason = TextAreaField(_l("Motivo del criterio profesional"))
    reason = TextAreaField(_l("Si el riesgo era alto y ahora baja: por qué"), id="lowering_reason")


for _key, _question in zip(QUESTION_KEYS, QUESTIONS, strict=True):
    setattr(
        RiskForm,
        f"q{_key}",
        RadioField(_question, choices=YES_NO_UNKNOWN, default=None, validate_choice=False),
    )


class WorkListForm(FlaskForm):
    """The work list's filters, sent as a query string (GET): codes and numbers only;
    an identifier in the URL is refused before this form is read."""

    class Meta:
        csrf = False  # a GET that changes nothing

    assigned = HiddenField(default="all")
    status = Select(_l("Estado"), choices=[])
    risk = Select(_l("Riesgo"), choices=[])
    overdue = BooleanField(_l("Solo con seguimiento vencido"))
    next_contact = StringField(
        _l("Próximo contacto en (días)"), render_kw={"inputmode": "numeric", "size": 4}
    )
    inactive_days = StringField(
        _l("Sin actividad desde (días)"), render_kw={"inputmode": "numeric", "size": 4}
    )
    municipality = Select(_l("Municipio de residencia"), choices=[])
    sort = Select(_l("Ordenar por"), choices=[])


class AssignmentForm(FlaskForm):
    action = HiddenField()
    user_id = Select(_l("Nueva persona responsable"), choices=[])


class MoveCaseloadForm(FlaskForm):
    from_user_id = Select(_l("Mover los casos de"), choices=[])
    to_user_id = Select(_l("A"), choices=[])
