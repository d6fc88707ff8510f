"""The incident export's columns that count women and events (issue 14, item 6): her
pseudonymous code, disability, whether she had reported before, the perpetrators in
aggregate and the LEIV art. 10 modality; and the Spanish label of every column, which
the CSV gives as its second header row.

Nothing here reads a ciphertext: the code is made at intake under the statistics key
(app/crypto/survivor_code.py) and stored on her row; the rest are plain columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, or_
from sqlalchemy.orm import aliased

from app.cases.legal_models import Complaint
from app.cases.models import Incident

YES, NO, UNKNOWN = "yes", "no", "unknown"

# Appended after the recorder's columns and the 2024 map's: earlier positions stay.
COUNTING_COLUMNS = (
    "Survivor code",
    "Survivor has a disability",
    "Previously reported",
    "Number of alleged perpetrators",
    "Alleged perpetrator relationships",
    "Modality (LEIV art. 10)",
)

# The Spanish header of each column, in the export's order (exports.INCIDENT_COLUMNS).
SPANISH_LABELS = {
    "Incident ID": "Código del hecho",
    "Date of interview (month)": "Mes de la entrevista",
    "Date of incident (month)": "Mes del hecho",
    "Days from incident to report": "Días del hecho a la denuncia",
    "Incident location (district)": "Lugar del hecho (distrito)",
    "Type of place": "Tipo de lugar",
    "Survivor sex": "Sexo de la sobreviviente",
    "Survivor age group": "Grupo de edad de la sobreviviente",
    "GBV type (GBVIMS)": "Tipo de violencia (GBVIMS)",
    "Violence types (LEIV)": "Tipos de violencia (LEIV)",
    "Alleged perpetrator relationship": "Relación con el presunto agresor",
    "Context": "Contexto",
    "Entry institution type": "Tipo de institución de entrada",
    "Referral services": "Servicios de remisión",
    "Incident location (municipality 2024)": "Lugar del hecho (municipio 2024)",
    "Incident location (department)": "Lugar del hecho (departamento)",
    "Survivor code": "Código seudónimo de la sobreviviente",
    "Survivor has a disability": "La sobreviviente tiene una discapacidad",
    "Previously reported": "Denunció o consultó antes",
    "Number of alleged perpetrators": "Número de presuntos agresores",
    "Alleged perpetrator relationships": "Relaciones con los presuntos agresores",
    "Modality (LEIV art. 10)": "Modalidad (LEIV art. 10)",
}


def yes_no(value: bool | None) -> str:
    return UNKNOWN if value is None else (YES if value else NO)


def previously_reported() -> Any:
    """She had something on file before this incident: an earlier incident in force on
    her record, or a complaint filed before this one was reported."""
    earlier = aliased(Incident)
    earlier_incident = exists().where(
        earlier.case_id == Incident.case_id,
        earlier.voided_at.is_(None),
        earlier.created_at < Incident.created_at,
    )
    earlier_complaint = exists().where(
        Complaint.case_id == Incident.case_id, Complaint.filed_on < Incident.reported_on
    )
    return or_(earlier_incident, earlier_complaint)


def perpetrator_aggregates(relationships: Sequence[str]) -> list[Any]:
    """[number of perpetrators, their relationships] from the incident's perpetrator
    codes: each recorded aggressor's relationship, or the incident's own one when no
    aggressor was recorded on it."""
    codes = [code for code in relationships if code]
    return [len(codes), " ".join(sorted(set(codes)))]
