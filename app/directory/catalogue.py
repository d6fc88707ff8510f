"""The production catalogues: territory, services and protection measures (DOMAIN.md).

Loaded by `flask --app wsgi catalogue load` (and by `demo load`). The territory follows
its data file (`territory.py`: rows brought in line in place, none deleted, the aliases
administrators added kept); services and measure types already there are left as
administrators edited them, and those they made are never touched.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select

from app.core.db import DbSession
from app.core.i18n import N_
from app.directory.models import District, MeasureType, Service
from app.directory.territory import (
    ALIAS_SEPARATOR,
    LoadReport,
    TerritoryMap,
    load_territory,
    read_map,
)

SERVICES = {
    "medical": (N_("Atención médica"), "Medical care"),
    "forensic_exam": (N_("Peritaje forense"), "Forensic examination"),
    "psychological": (N_("Atención psicológica"), "Psychological care"),
    "legal_aid": (N_("Asesoría jurídica"), "Legal aid"),
    "police_complaint": (N_("Denuncia policial"), "Police complaint"),
    "prosecution": (N_("Acción fiscal"), "Prosecution"),
    "protection_measures": (N_("Medidas de protección"), "Protection measures"),
    "shelter": (N_("Albergue"), "Shelter"),
    "social_support": (N_("Apoyo social"), "Social support"),
    "economic_empowerment": (N_("Autonomía económica"), "Economic empowerment"),
    "child_protection": (N_("Protección de la niñez"), "Child protection"),
    "other": (N_("Otro"), "Other"),
}

# The protection measures of the Ley contra la Violencia Intrafamiliar, art. 7 (which the
# Ley Especial Integral para una Vida Libre de Violencia para las Mujeres applies too),
# in plain words; a court's order may name several, and administrators add others.
MEASURE_TYPES = {
    "stop_harassment": N_(
        "Abstenerse de hostigar, intimidar o maltratar a la víctima y su familia"
    ),
    "others_refrain": N_("Orden a otras personas involucradas de abstenerse de actos de violencia"),
    "no_threats": N_("Prohibición de amenazar a la víctima en público o en privado"),
    "no_alcohol_drugs": N_("Prohibición de consumir alcohol o drogas"),
    "leave_home": N_("Abandonar la vivienda que comparte con la víctima"),
    "keep_away": N_("Prohibición de acercarse a la vivienda, trabajo o centro de estudio"),
    "weapons_seized": N_("Decomiso de armas y suspensión de licencia"),
    "custody_support": N_("Cuidado personal provisional, régimen de visitas y cuota alimenticia"),
    "temporary_residence": N_("Residencia temporal de la víctima fuera de la vivienda común"),
    "return_home": N_("Regreso de la víctima a su vivienda, de la que sale el agresor"),
    "household_goods": N_("Uso de los muebles y enseres de la casa por la víctima"),
    "no_asset_disposal": N_("Prohibición de vender o gravar los bienes comunes"),
    "police_protection": N_("Protección policial de la víctima y su familia"),
    "therapy": N_("Asistencia obligatoria a tratamiento o programa terapéutico"),
}
# The English of each measure, for the pages and for the rows `load_catalogues` adds.
MEASURE_TYPES_EN = {
    "stop_harassment": "Stop harassing, intimidating or mistreating the victim and her family",
    "others_refrain": "Order to other people involved to refrain from acts of violence",
    "no_threats": "Ban on threatening the victim in public or in private",
    "no_alcohol_drugs": "Ban on consuming alcohol or drugs",
    "leave_home": "Leave the home shared with the victim",
    "keep_away": "Ban on approaching her home, workplace or place of study",
    "weapons_seized": "Seizure of weapons and suspension of the licence",
    "custody_support": "Provisional custody, visiting arrangements and child support",
    "temporary_residence": "Temporary residence for the victim away from the shared home",
    "return_home": "The victim returns to her home, which the aggressor leaves",
    "household_goods": "Use of the household furniture and goods by the victim",
    "no_asset_disposal": "Ban on selling or encumbering the shared property",
    "police_protection": "Police protection of the victim and her family",
    "therapy": "Mandatory attendance at treatment or a therapeutic programme",
}


def municipality_code(name: str) -> str:
    """The code Ruta gave each former municipality: "San Antonio del Monte" →
    "san_antonio_del_monte". The districts of the 2024 map keep these codes."""
    from app.crypto.blind_index import normalise_name

    return normalise_name(name).replace(" ", "_")


def missing_codes(session: DbSession, column: Any, wanted: list[str]) -> set[str]:
    present = set(session.execute(select(column).where(column.in_(wanted))).scalars())
    return set(wanted) - present


def keeping_aliases(session: DbSession, territory: TerritoryMap) -> TerritoryMap:
    """The map, each district's aliases joined with those already in the database."""
    stored = dict(session.execute(select(District.code, District.aliases)).all())
    districts = {}
    for code, values in territory.districts.items():
        names = [*_split(values["aliases"]), *_split(stored.get(code))]
        joined = ALIAS_SEPARATOR.join(dict.fromkeys(names))
        districts[code] = {**values, "aliases": joined or None}
    return replace(territory, districts=districts)


def _split(aliases: str | None) -> list[str]:
    return [name for name in (aliases or "").split(ALIAS_SEPARATOR) if name]


def load_catalogues(session: DbSession) -> LoadReport:
    """The territory, services and protection measures; says what the territory load did."""
    # The aliases administrators gave districts are kept beside those of the data file.
    report = load_territory(session, keeping_aliases(session, read_map()))
    for code in missing_codes(session, Service.code, list(SERVICES)):
        name_es, name_en = SERVICES[code]
        session.add(Service(code=code, name_es=name_es, name_en=name_en))
    for code in missing_codes(session, MeasureType.code, list(MEASURE_TYPES)):
        session.add(
            MeasureType(code=code, name_es=MEASURE_TYPES[code], name_en=MEASURE_TYPES_EN[code])
        )
    session.flush()
    return report
