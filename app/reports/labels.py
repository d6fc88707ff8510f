"""Spanish labels for the codes the statistics count by (DOMAIN.md §Statistics)."""

from __future__ import annotations

from sqlalchemy import select

from app.cases.vocab import AGE_GROUPS, RELATIONSHIPS, SEXES, VIOLENCE_TYPES
from app.core.db import DbSession
from app.directory import territory
from app.directory.models import Service

UNKNOWN = "unknown"
NONE = "none"

GBVIMS_TYPES: dict[str, str] = {
    "rape": "Violación",
    "sexual_assault": "Agresión sexual",
    "physical_assault": "Agresión física",
    "forced_marriage": "Matrimonio forzado",
    "denial_of_resources": "Negación de recursos, oportunidades o servicios",
    "psychological_abuse": "Abuso psicológico o emocional",
    "other": "Otro",
}

INSTITUTION_KINDS: dict[str, str] = {
    "pnc_family_unit": "Policía (unidad de familia)",
    "health_unit": "Salud",
    "womens_office": "Unidad de la mujer / ISDEMU",
    "prosecutor": "Fiscalía",
    "court": "Juzgado",
    "legal_aid": "Asesoría jurídica",
    "forensic": "Medicina legal",
    "shelter": "Albergue",
    "coordination": "Coordinación de la red",
    "system": "Sistema",
}

REFERRAL_OUTCOMES: dict[str, str] = {
    "sent": "Enviada",
    "accepted": "Aceptada",
    "in_progress": "En atención",
    "completed": "Completada",
    "declined": "Rechazada",
    "cancelled": "Cancelada",
    NONE: "Sin remisión",
}

CONTEXTS: dict[str, str] = {
    "intimate_partner": "Pareja o expareja",
    "intrafamily": "Intrafamiliar",
    "child_sexual_abuse": "Abuso sexual infantil",
    NONE: "Otro contexto",
}

# Days from the incident to its first report in Ruta: upper limits, then the rest.
DAY_LIMITS = ((3, "0-3"), (5, "4-5"), (14, "6-14"), (30, "15-30"))
OVER_30 = "31+"
DAYS_TO_REPORT: dict[str, str] = {
    "0-3": "0 a 3 días",
    "4-5": "4 a 5 días",
    "6-14": "6 a 14 días",
    "15-30": "15 a 30 días",
    "31+": "Más de 30 días",
}

AGE_GROUP_LABELS: dict[str, str] = {
    **{code: f"{code} años" for code, _, _ in AGE_GROUPS},
    UNKNOWN: "Sin dato",
}

MONTH_NAMES = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
)  # fmt: skip

STATIC_LABELS: dict[str, dict[str, str]] = {
    "violence_type": VIOLENCE_TYPES,
    "gbvims_type": GBVIMS_TYPES,
    "age_group": AGE_GROUP_LABELS,
    "sex": SEXES,
    "perpetrator_relationship": RELATIONSHIPS,
    "entry_institution_kind": INSTITUTION_KINDS,
    "referral_outcome": REFERRAL_OUTCOMES,
    "context": CONTEXTS,
    "days_to_report": DAYS_TO_REPORT,
}


def month_label(value: str) -> str:
    """ "2026-10" → "octubre 2026"."""
    year, _, month = value.partition("-")
    if not month.isdigit() or not 1 <= int(month) <= 12:
        return value
    return f"{MONTH_NAMES[int(month) - 1]} {year}"


def short_month_label(value: str) -> str:
    """ "2026-10" → "oct 26", for a chart axis."""
    year, _, month = value.partition("-")
    if not month.isdigit() or not 1 <= int(month) <= 12:
        return value
    return f"{MONTH_NAMES[int(month) - 1][:3]} {year[-2:]}"


def municipality_names(session: DbSession) -> dict[str, str]:
    """The districts' names (the former municipalities), in alphabetical order."""
    return territory.district_names(session)


def service_names(session: DbSession) -> dict[str, str]:
    rows = session.execute(select(Service.code, Service.name_es))
    return {**{code: name for code, name in rows}, NONE: "Sin remisión"}


def labels_for(session: DbSession, dimension: str, values: list[str]) -> dict[str, str]:
    """The Spanish label of each value; an unknown code is shown as it is."""
    if dimension == "month":
        known = {value: month_label(value) for value in values}
    elif dimension == "district":
        known = municipality_names(session)
    elif dimension == "municipality":
        known = {**territory.municipality_2024_names(session), UNKNOWN: "Sin dato"}
    elif dimension == "department":
        known = territory.department_names(session)
    elif dimension == "referral_service":
        known = service_names(session)
    else:
        known = STATIC_LABELS.get(dimension, {})
    return {value: known.get(value, value) for value in values}
