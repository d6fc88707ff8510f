"""The production catalogues: territory, services and protection measures (DOMAIN.md).

Loaded by `flask --app wsgi catalogue load` (and by `demo load`). The territory follows
its data file (`territory.py`: rows brought in line in place, none deleted); services
and measure types already there are left as administrators edited them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.core.db import DbSession
from app.directory.models import MeasureType, Service
from app.directory.territory import LoadReport, load_territory

SERVICES = {
    "medical": ("Atención médica", "Medical care"),
    "forensic_exam": ("Peritaje forense", "Forensic examination"),
    "psychological": ("Atención psicológica", "Psychological care"),
    "legal_aid": ("Asesoría jurídica", "Legal aid"),
    "police_complaint": ("Denuncia policial", "Police complaint"),
    "prosecution": ("Acción fiscal", "Prosecution"),
    "protection_measures": ("Medidas de protección", "Protection measures"),
    "shelter": ("Albergue", "Shelter"),
    "social_support": ("Apoyo social", "Social support"),
    "economic_empowerment": ("Autonomía económica", "Economic empowerment"),
    "child_protection": ("Protección de la niñez", "Child protection"),
    "other": ("Otro", "Other"),
}

MEASURE_TYPES = {
    "stop_harassment": "Abstenerse de hostigar, intimidar o maltratar a la víctima y su familia",
    "others_refrain": "Orden a otras personas involucradas de abstenerse de actos de violencia",
    "no_threats": "Prohibición de amenazar a la víctima en público o en privado",
    "no_alcohol_drugs": "Prohibición de consumir alcohol o drogas",
    "leave_home": "Abandonar la vivienda que comparte con la víctima",
    "keep_away": "Prohibición de acercarse a la vivienda, trabajo o centro de estudio",
    "weapons_seized": "Decomiso de armas y suspensión de licencia",
    "custody_support": "Cuidado personal provisional, régimen de visitas y cuota alimenticia",
}


def municipality_code(name: str) -> str:
    """The code Ruta gave each former municipality: "San Antonio del Monte" →
    "san_antonio_del_monte". The districts of the 2024 map keep these codes."""
    from app.crypto.blind_index import normalise_name

    return normalise_name(name).replace(" ", "_")


def missing_codes(session: DbSession, column: Any, wanted: list[str]) -> set[str]:
    present = set(session.execute(select(column).where(column.in_(wanted))).scalars())
    return set(wanted) - present


def load_catalogues(session: DbSession) -> LoadReport:
    """The territory, services and protection measures; says what the territory load did."""
    report = load_territory(session)  # which forgets the cached catalogue
    for code in missing_codes(session, Service.code, list(SERVICES)):
        name_es, name_en = SERVICES[code]
        session.add(Service(code=code, name_es=name_es, name_en=name_en))
    for code in missing_codes(session, MeasureType.code, list(MEASURE_TYPES)):
        session.add(
            MeasureType(code=code, name_es=MEASURE_TYPES[code], name_en=MEASURE_TYPES[code])
        )
    session.flush()
    return report
