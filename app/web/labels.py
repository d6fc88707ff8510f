"""Labels for the stored codes, in the page's language, and date filters, for the templates.

The domain keeps its labels in Spanish (`app/cases/vocab.py`, the catalogue); they are
marked for the catalogue there and translated here, when a page shows them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask, g
from flask_babel import get_locale, get_translations
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.cases import vocab
from app.core.time import LOCAL_TZ
from app.directory.service import measure_names, service_names
from app.directory.territory import place_labels
from app.extensions import db
from app.web.case_forms import (
    CHANNEL_LABELS,
    CLOSE_LABELS,
    NOTE_KIND_LABELS,
    OUTCOME_LABELS,
    REOPEN_LABELS,
)

STATUS = {
    "open": _l("Abierto"),
    "follow_up": _l("En seguimiento"),
    "closed": _l("Cerrado"),
    "merged": _l("Unido a otro expediente"),
}
RISK = {"standard": _l("estándar"), "medium": _l("medio"), "high": _l("alto")}
PARTY = {
    "opened": _l("abrió el expediente"),
    "matched_intake": _l("se unió por un ingreso"),
    "referral": _l("recibió una remisión"),
    "merged": _l("participaba en un expediente unido a este"),
}
DUPLICATE_REASONS = {
    "name": _l("nombre parecido"),
    "birth_year": _l("mismo año de nacimiento"),
    "phone": _l("mismo teléfono"),
    "dui": _l("mismo DUI"),
}
REFERRAL = {
    "sent": _l("Enviada"),
    "accepted": _l("Aceptada"),
    "in_progress": _l("En atención"),
    "completed": _l("Completada"),
    "declined": _l("Rechazada"),
    "cancelled": _l("Cancelada"),
}
URGENCY = {"immediate": _l("Inmediata"), "priority": _l("Prioritaria"), "routine": _l("Ordinaria")}
MEASURE_STATUS = {
    "requested": _l("Solicitada"),
    "denied": _l("Denegada"),
    "active": _l("Vigente"),
    "expired": _l("Vencida"),
    "revoked": _l("Revocada"),
    "breached": _l("Incumplida"),
}
ACTIONS = {
    "accept": _l("Aceptar"),
    "decline": _l("Rechazar"),
    "start": _l("Iniciar atención"),
    "complete": _l("Completar"),
    "cancel": _l("Cancelar"),
}
TIMELINE = {
    "case_opened": _l("Expediente abierto"),
    "incident": _l("Hecho registrado"),
    "incident_voided": _l("Hecho anulado"),
    "consent": _l("Consentimiento registrado"),
    "care_note": _l("Atención"),
    "follow_up_planned": _l("Seguimiento agendado"),
    "follow_up_done": _l("Seguimiento realizado"),
    "risk_assessment": _l("Valoración de riesgo"),
    "complaint": _l("Denuncia"),
    "referral_send": _l("Remisión enviada"),
    "referral_accept": _l("Remisión aceptada"),
    "referral_decline": _l("Remisión rechazada"),
    "referral_start": _l("Atención iniciada"),
    "referral_complete": _l("Remisión completada"),
    "referral_cancel": _l("Remisión cancelada"),
    "status": _l("Cambio de estado"),
    "attachment": _l("Archivo adjunto"),
}
RISK_REASONS = {
    "strangulation": _l("estrangulamiento"),
    "threat_to_kill": _l("amenaza de muerte creíble"),
    "feminicidal": _l("violencia feminicida"),
    "firearm": _l("arma de fuego"),
    "judgement": _l("criterio profesional"),
    "score_high": _l("puntaje ≥ 14"),
    "score_medium": _l("puntaje 10–13"),
    "score_standard": _l("puntaje 0–9"),
}
# The fields a correction names, as the forms call them.
CORRECTED_FIELDS = {
    "given_names": _l("Nombres"),
    "family_names": _l("Apellidos"),
    "dui": _l("DUI"),
    "birth_date": _l("Fecha de nacimiento"),
    "sex": _l("Sexo"),
    "municipality": _l("Municipio"),
    "phone": _l("Teléfono"),
    "address": _l("Dirección"),
    "safe_contact": _l("Contacto seguro"),
    "occurred_on": _l("Fecha del hecho"),
    "place_type": _l("Lugar"),
    "violence_types": _l("Tipos de violencia"),
    "penetration": _l("Penetración"),
    "perpetrator_relationship": _l("Relación con el agresor"),
    "perpetrator_details": _l("Datos del agresor"),
    "weapon": _l("Arma"),
    "children_present": _l("Niñas o niños presentes"),
    "narrative": _l("Relato"),
    "number": _l("Número de denuncia"),
    "filed_on": _l("Fecha de la denuncia"),
    "forward_to_prosecutor": _l("Remitir a FGR"),
    "incident_ids": _l("Hechos de la denuncia"),
    "voided": _l("Anulado"),
    "status": _l("Estado"),
}
CORRECTED_OBJECTS = {
    "survivor": _l("Identidad y contacto"),
    "incident": _l("Hecho"),
    "complaint": _l("Denuncia"),
    "case": _l("Expediente"),
}
CODE_TABLES: dict[str, dict[str, Any]] = {
    "sex": vocab.SEXES,
    "relationship": vocab.RELATIONSHIPS,
    "weapon": vocab.WEAPONS,
    "place": vocab.PLACE_TYPES,
    "modality": vocab.MODALITIES,
    "violence": vocab.VIOLENCE_TYPES,
    "close": CLOSE_LABELS,
    "reopen": REOPEN_LABELS,
}


def lookup(table: dict[str, Any], code: str | None) -> str:
    """The label of `code` in the page's language; an unknown code is shown as it is."""
    if not code:
        return "—"
    label = table.get(code)
    return _(label) if isinstance(label, str) else str(label if label is not None else code)


def in_english() -> bool:
    return str(get_locale() or "es") == "en"


def iso_date(value: str | date | None) -> str:
    """DD/MM/AAAA; a moment (with a time) is first moved to El Salvador's clock."""
    if not value:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(LOCAL_TZ).date()
    return value.strftime("%d/%m/%Y")


def municipality_label(code: str | None) -> str:
    """A district as "Distrito, Municipio, Departamento"; the map is read once a request."""
    if not code:
        return "—"
    if "place_labels" not in g:
        g.place_labels = place_labels(db.session)
    return str(g.place_labels.get(code, code))


def iso_datetime(value: str | datetime | None) -> str:
    if not value:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")


def service_label(code: str) -> str:
    """A service's name as the catalogue has it now (administrators rename and add)."""
    names = service_names(db.session).get(code)
    return code if names is None else (names[1] if in_english() else _(names[0]))


def measure_label(code: str) -> str:
    names = measure_names(db.session).get(code)
    return code if names is None else (names[1] if in_english() else _(names[0]))


def institution_kind_label(code: str | None) -> str:
    from app.directory.labels import INSTITUTION_KIND_LABELS

    return lookup(INSTITUTION_KIND_LABELS, code)


def role_label(code: str | None) -> str:
    from app.auth.labels import ROLE_LABELS

    return lookup(ROLE_LABELS, code)


# The parts of a record a role may not read of what others wrote (cases.policy.ROLE_PARTS).
WITHHELD_PARTS = {
    "incidents": _l("los hechos relatados"),
    "notes:medical": _l("las notas médicas"),
    "notes:forensic": _l("las notas forenses"),
    "notes:psychological": _l("las notas psicológicas"),
    "notes:legal": _l("las notas legales"),
    "notes:social": _l("las notas sociales"),
    "notes:shelter": _l("las notas de acogida"),
    "follow_ups": _l("los seguimientos"),
    "safety_plan": _l("el plan de seguridad"),
    "attachments": _l("los adjuntos"),
    "complaints": _l("la denuncia y las medidas"),
}


def _translations() -> Any:
    """The request's catalogue, found once: Flask-Babel looks it up again for every
    string, and the case page says some 150 of them."""
    found = g.get("page_translations")
    if found is None:
        found = g.page_translations = get_translations()
    return found


def register_labels(app: Flask) -> None:
    env = app.jinja_env
    env.install_gettext_callables(  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
    )
    env.filters.update(
        isodate=iso_date,
        isodatetime=iso_datetime,
        violence_label=lambda code: lookup(vocab.VIOLENCE_TYPES, code),
        risk_reason_label=lambda code: lookup(RISK_REASONS, code),
        corrected_field_label=lambda code: lookup(CORRECTED_FIELDS, code),
        duplicate_reason=lambda code: lookup(DUPLICATE_REASONS, code),
    )
    env.globals.update(
        corrected_field_label=lambda c: lookup(CORRECTED_FIELDS, c),
        corrected_object_label=lambda c: lookup(CORRECTED_OBJECTS, c),
        status_label=lambda c: lookup(STATUS, c),
        risk_label=lambda c: lookup(RISK, c),
        party_label=lambda c: lookup(PARTY, c),
        referral_label=lambda c: lookup(REFERRAL, c),
        urgency_label=lambda c: lookup(URGENCY, c),
        note_label=lambda c: lookup(NOTE_KIND_LABELS, c),
        channel_label=lambda c: lookup(CHANNEL_LABELS, c),
        outcome_label=lambda c: lookup(OUTCOME_LABELS, c),
        measure_status_label=lambda c: lookup(MEASURE_STATUS, c),
        timeline_label=lambda c: lookup(TIMELINE, c),
        action_label=lambda c: lookup(ACTIONS, c),
        code_label=lambda table, c: lookup(CODE_TABLES[table], c),
        service_label=service_label,
        municipality_label=municipality_label,
        measure_label=measure_label,
        institution_kind_label=institution_kind_label,
        role_label=role_label,
        withheld_part_label=lambda c: lookup(WITHHELD_PARTS, c),
        outcome_choices=lambda: [(k, str(v)) for k, v in OUTCOME_LABELS.items()],
        measure_status_choices=lambda: [(k, str(v)) for k, v in MEASURE_STATUS.items()],
        hearing_kind_label=_hearing_kind_label,
    )


def _hearing_kind_label(code: str | None) -> str:
    from app.web.justice_forms import HEARING_KIND_LABELS

    return lookup(HEARING_KIND_LABELS, code)
