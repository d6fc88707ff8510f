"""The decrypted view of a case, built only after the access check has passed."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from app.cases.models import Case, Incident, Survivor
from app.cases.record_parts import care_parts
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for

SURVIVOR_SECRET_FIELDS = (
    "given_names",
    "family_names",
    "dui",
    "birth_date",
    "phone",
    "address",
    "safe_contact",
)


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value else None


def survivor_record(cipher: FieldCipher, survivor: Survivor) -> dict[str, Any]:
    record: dict[str, Any] = {
        field: cipher.open_text("survivors", survivor.id, field, getattr(survivor, f"{field}_enc"))
        for field in SURVIVOR_SECRET_FIELDS
    }
    record.update(
        id=str(survivor.id),
        sex=survivor.sex,
        municipality=survivor.municipality,
        disability=survivor.disability,
    )
    return record


def incident_record(cipher: FieldCipher, incident: Incident) -> dict[str, Any]:
    return {
        "id": str(incident.id),
        "occurred_on": _iso(incident.occurred_on),
        "reported_on": _iso(incident.reported_on),
        "municipality": incident.municipality,
        "place_type": incident.place_type,
        "violence_types": incident.violence_types,
        "penetration": incident.penetration,
        "perpetrator_relationship": incident.perpetrator_relationship,
        "perpetrator_details": cipher.open_text(
            "incidents", incident.id, "perpetrator_details", incident.perpetrator_details_enc
        ),
        "weapon": incident.weapon,
        "children_present": incident.children_present,
        "narrative": cipher.open_text(
            "incidents", incident.id, "narrative", incident.narrative_enc
        ),
        "gbvims_type": incident.gbvims_type,
        "context": incident.context,
        "entry_institution": incident.entry_institution.code,
    }


def case_summary(case: Case) -> dict[str, Any]:
    return {
        "id": str(case.id),
        "number": case.number,
        "status": case.status,
        "created_at": _iso(case.created_at),
    }


def case_metadata(case: Case) -> dict[str, Any]:
    """What a supervisor sees without break-glass: no identity, no narrative."""
    record = case_summary(case)
    record.update(
        risk_level=case.risk_level,
        mandatory_report=case.mandatory_report,
        updated_at=_iso(case.updated_at),
        version=case.version,
        parties=[
            {
                "institution": party.institution.code,
                "institution_name": party.institution.name,
                "reason": party.reason,
                "since": _iso(party.since),
                "ended_at": _iso(party.ended_at),
            }
            for party in case.parties
        ],
    )
    return record


def case_record(ring: KeyRing, case: Case, viewer_institution_id: int) -> dict[str, Any]:
    """Everything a party sees. Needs a case loaded with `get_case_for(..., full=True)`."""
    cipher = cipher_for(ring, case.data_key)
    consent = case.consents[-1] if case.consents else None
    record = case_metadata(case)
    record.update(
        survivor=survivor_record(cipher, case.survivor),
        incidents=[incident_record(cipher, incident) for incident in case.incidents],
        consent={
            "share_with_network": consent.share_with_network,
            "statistics": consent.statistics,
            "police": consent.police,
            "recorded_at": _iso(consent.recorded_at),
        }
        if consent
        else None,
        close_reason=case.close_reason,
        **care_parts(cipher, case, viewer_institution_id),
    )
    return record
