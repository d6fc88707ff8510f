"""The fixed codes of DOMAIN.md, with their Spanish labels, and the derived values."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

VIOLENCE_TYPES: dict[str, str] = {
    "physical": "Física",
    "psychological": "Psicológica y emocional",
    "sexual": "Sexual",
    "patrimonial": "Patrimonial",
    "economic": "Económica",
    "symbolic": "Simbólica",
    "feminicidal": "Feminicida",
}

PLACE_TYPES: dict[str, str] = {
    "home": "Vivienda",
    "street": "Calle o espacio público",
    "workplace": "Lugar de trabajo",
    "school": "Centro educativo",
    "transport": "Transporte",
    "online": "En línea",
    "other": "Otro",
}

RELATIONSHIPS: dict[str, str] = {
    "partner": "Pareja",
    "former_partner": "Expareja",
    "family": "Familiar",
    "acquaintance": "Conocido",
    "stranger": "Desconocido",
    "authority": "Autoridad",
    "other": "Otro",
}

WEAPONS: dict[str, str] = {
    "none": "Ninguna",
    "firearm": "Arma de fuego",
    "knife": "Arma blanca",
    "other": "Otra",
}

SEXES: dict[str, str] = {"F": "Mujer", "M": "Hombre", "X": "Otro / no indica"}

CASE_STATUSES: dict[str, str] = {
    "open": "Abierto",
    "follow_up": "En seguimiento",
    "closed": "Cerrado",
}
# A record absorbed by a merge: never set by hand, so not among the statuses above.
MERGED_STATUS = "merged"
RECORD_STATUSES: dict[str, str] = {**CASE_STATUSES, MERGED_STATUS: "Unido a otro expediente"}

PARTY_REASONS: dict[str, str] = {
    "opened": "Abrió el expediente",
    "matched_intake": "Se unió por un ingreso coincidente",
    "referral": "Recibió una remisión",
    "merged": "Participaba en un expediente unido a este",
}

AGE_GROUPS = (
    ("0-11", 0, 11),
    ("12-17", 12, 17),
    ("18-29", 18, 29),
    ("30-59", 30, 59),
    ("60+", 60, 200),
)


def age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def age_group(age: int) -> str:
    for label, low, high in AGE_GROUPS:
        if low <= age <= high:
            return label
    return "60+"


def gbvims_type(
    types: Iterable[str], penetration: bool, sexual_contact: bool, forced_marriage: bool
) -> str:
    """DOMAIN.md's ordered rule: the first that applies wins."""
    kinds = set(types)
    if "sexual" in kinds and penetration:
        return "rape"
    if "sexual" in kinds or sexual_contact:
        return "sexual_assault"
    if "physical" in kinds or "feminicidal" in kinds:
        return "physical_assault"
    if forced_marriage:
        return "forced_marriage"
    if kinds & {"patrimonial", "economic"}:
        return "denial_of_resources"
    if kinds & {"psychological", "symbolic"}:
        return "psychological_abuse"
    return "other"


def context_of(relationship: str | None, types: Iterable[str], age: int | None) -> str | None:
    if "sexual" in set(types) and age is not None and age < 18:
        return "child_sexual_abuse"
    if relationship in {"partner", "former_partner"}:
        return "intimate_partner"
    if relationship == "family":
        return "intrafamily"
    return None
