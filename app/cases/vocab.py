"""The fixed codes of DOMAIN.md, with their Spanish labels (marked for the English
catalogue: the pages translate them), and the derived values."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from app.core.i18n import N_

VIOLENCE_TYPES: dict[str, str] = {
    "physical": N_("Física"),
    "psychological": N_("Psicológica y emocional"),
    "sexual": N_("Sexual"),
    "patrimonial": N_("Patrimonial"),
    "economic": N_("Económica"),
    "symbolic": N_("Simbólica"),
    "feminicidal": N_("Feminicida"),
}

PLACE_TYPES: dict[str, str] = {
    "home": N_("Vivienda"),
    "street": N_("Calle o espacio público"),
    "workplace": N_("Lugar de trabajo"),
    "school": N_("Centro educativo"),
    "transport": N_("Transporte"),
    "online": N_("En línea"),
    "other": N_("Otro"),
}

RELATIONSHIPS: dict[str, str] = {
    "partner": N_("Pareja"),
    "former_partner": N_("Expareja"),
    "family": N_("Familiar"),
    "acquaintance": N_("Conocido"),
    "stranger": N_("Desconocido"),
    "authority": N_("Autoridad"),
    "other": N_("Otro"),
}

WEAPONS: dict[str, str] = {
    "none": N_("Ninguna"),
    "firearm": N_("Arma de fuego"),
    "knife": N_("Arma blanca"),
    "other": N_("Otra"),
}

SEXES: dict[str, str] = {"F": N_("Mujer"), "M": N_("Hombre"), "X": N_("Otro / no indica")}

CASE_STATUSES: dict[str, str] = {
    "open": N_("Abierto"),
    "follow_up": N_("En seguimiento"),
    "closed": N_("Cerrado"),
}
# A record absorbed by a merge: never set by hand, so not among the statuses above.
MERGED_STATUS = "merged"
RECORD_STATUSES: dict[str, str] = {**CASE_STATUSES, MERGED_STATUS: N_("Unido a otro expediente")}

PARTY_REASONS: dict[str, str] = {
    "opened": N_("Abrió el expediente"),
    "matched_intake": N_("Se unió por un ingreso coincidente"),
    "referral": N_("Recibió una remisión"),
    "merged": N_("Participaba en un expediente unido a este"),
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


# LEIV art. 10, "modalidades de la violencia": where the violence happens, which the
# national system of data (LEIV art. 30) reports by. Literal c) (laboral) is confirmed
# from the text of its 2019 reform; a) comunitaria and b) institucional from the law's
# structure as commonly cited, NOT checked against the decree's text here (to confirm).
# Optional on an incident: violence at home falls under none of them.
MODALITIES: dict[str, str] = {
    "community": N_("Comunitaria"),
    "institutional": N_("Institucional"),
    "workplace": N_("Laboral"),
}
