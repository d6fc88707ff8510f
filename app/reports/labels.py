"""Spanish labels for the codes the statistics count by (DOMAIN.md §Statistics).

The API, the CSV exports and the statistics keep these Spanish texts as they are; each is
marked with `N_` for the catalogue, and the pages translate it when they show it
(`app/web/reports.py`)."""

from __future__ import annotations

from sqlalchemy import select

from app.cases.vocab import AGE_GROUPS, RELATIONSHIPS, SEXES, VIOLENCE_TYPES
from app.core.db import DbSession
from app.core.i18n import N_
from app.directory import territory
from app.directory.models import Service

UNKNOWN = "unknown"
NONE = "none"
NO_DATA = N_("Sin dato")
NO_REFERRAL = N_("Sin remisión")

GBVIMS_TYPES: dict[str, str] = {
    "rape": N_("Violación"),
    "sexual_assault": N_("Agresión sexual"),
    "physical_assault": N_("Agresión física"),
    "forced_marriage": N_("Matrimonio forzado"),
    "denial_of_resources": N_("Negación de recursos, oportunidades o servicios"),
    "psychological_abuse": N_("Abuso psicológico o emocional"),
    "other": N_("Otro"),
}

INSTITUTION_KINDS: dict[str, str] = {
    "pnc_family_unit": N_("Policía (unidad de familia)"),
    "health_unit": N_("Salud"),
    "womens_office": N_("Unidad de la mujer / ISDEMU"),
    "prosecutor": N_("Fiscalía"),
    "court": N_("Juzgado"),
    "legal_aid": N_("Asesoría jurídica"),
    "forensic": N_("Medicina legal"),
    "shelter": N_("Albergue"),
    "coordination": N_("Coordinación de la red"),
    "system": N_("Sistema"),
}

REFERRAL_OUTCOMES: dict[str, str] = {
    "sent": N_("Enviada"),
    "accepted": N_("Aceptada"),
    "in_progress": N_("En atención"),
    "completed": N_("Completada"),
    "declined": N_("Rechazada"),
    "cancelled": N_("Cancelada"),
    NONE: NO_REFERRAL,
}

CONTEXTS: dict[str, str] = {
    "intimate_partner": N_("Pareja o expareja"),
    "intrafamily": N_("Intrafamiliar"),
    "child_sexual_abuse": N_("Abuso sexual infantil"),
    NONE: N_("Otro contexto"),
}

# Days from the incident to its first report in Ruta: upper limits, then the rest.
DAY_LIMITS = ((3, "0-3"), (5, "4-5"), (14, "6-14"), (30, "15-30"))
OVER_30 = "31+"
DAYS_TO_REPORT: dict[str, str] = {
    "0-3": N_("0 a 3 días"),
    "4-5": N_("4 a 5 días"),
    "6-14": N_("6 a 14 días"),
    "15-30": N_("15 a 30 días"),
    "31+": N_("Más de 30 días"),
}

AGE_YEARS = N_("%(range)s años")  # an age group's code is its range: "18-29"
AGE_GROUP_LABELS: dict[str, str] = {
    **{code: AGE_YEARS % {"range": code} for code, _, _ in AGE_GROUPS},
    UNKNOWN: NO_DATA,
}

MONTH_NAMES = (
    N_("enero"), N_("febrero"), N_("marzo"), N_("abril"), N_("mayo"), N_("junio"),
    N_("julio"), N_("agosto"), N_("septiembre"), N_("octubre"), N_("noviembre"),
    N_("diciembre"),
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


def municipality_names(session: DbSession) -> dict[str, str]:
    """The districts' names (the former municipalities), in alphabetical order."""
    return territory.district_names(session)


def service_names(session: DbSession) -> dict[str, str]:
    rows = session.execute(select(Service.code, Service.name_es))
    return {**{code: name for code, name in rows}, NONE: NO_REFERRAL}


def labels_for(session: DbSession, dimension: str, values: list[str]) -> dict[str, str]:
    """The Spanish label of each value; an unknown code is shown as it is."""
    if dimension == "month":
        known = {value: month_label(value) for value in values}
    elif dimension == "district":
        known = municipality_names(session)
    elif dimension == "municipality":
        known = {**territory.municipality_2024_names(session), UNKNOWN: NO_DATA}
    elif dimension == "department":
        known = territory.department_names(session)
    elif dimension == "referral_service":
        known = service_names(session)
    else:
        known = STATIC_LABELS.get(dimension, {})
    return {value: known.get(value, value) for value in values}
