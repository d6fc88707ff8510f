"""The decrypted view of a case for one view of it, built only after `access.case_for`
has decided that view. Shapes data; decides nothing."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from app.cases import policy
from app.cases.models import Case, CaseParty, Consent, Incident, Survivor
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
        parties=[_party_record(party) for party in case.parties],
    )
    return record


def _party_record(party: CaseParty) -> dict[str, Any]:
    return {
        "institution": party.institution.code,
        "institution_name": party.institution.name,
        "reason": party.reason,
        "access": party.access,
        "since": _iso(party.since),
        "ended_at": _iso(party.ended_at),
    }


def consent_record(consent: Consent) -> dict[str, Any]:
    return {
        "share_with_network": consent.share_with_network,
        "statistics": consent.statistics,
        "police": consent.police,
        "given_by": consent.given_by,
        "recorded_at": _iso(consent.recorded_at),
        "institution": consent.recorded_by_institution.code,
    }


def present_case(
    ring: KeyRing, case: Case, view: str, viewer_institution_id: int
) -> dict[str, Any]:
    """The record as this view may see it. Needs a case loaded by `access.case_for(...,
    whole_record=True)` unless the view is metadata."""
    if view == policy.METADATA:
        return case_metadata(case)
    cipher = cipher_for(ring, case.data_key)
    if view == policy.OWN_PARTS:
        return _own_parts_record(cipher, case, viewer_institution_id)
    consent = case.consents[-1] if case.consents else None
    record = case_metadata(case)
    record.update(
        survivor=survivor_record(cipher, case.survivor),
        incidents=[incident_record(cipher, incident) for incident in case.incidents],
        consent=consent_record(consent) if consent else None,
        consents=[consent_record(c) for c in case.consents],
        close_reason=case.close_reason,
        **care_parts(cipher, case, viewer_institution_id),
    )
    return record


class _OwnParts:
    """The case as an own_parts party sees it: only the rows it wrote itself."""

    def __init__(self, case: Case, institution_id: int) -> None:
        def own(rows: list[Any], column: str = "institution_id") -> list[Any]:
            return [row for row in rows if getattr(row, column) == institution_id]

        plan = case.safety_plan
        self.id, self.number, self.created_at = case.id, case.number, case.created_at
        self.incidents = own(case.incidents, "entry_institution_id")
        self.consents: list[Consent] = []
        self.notes = own(case.notes)
        self.follow_ups = own(case.follow_ups)
        self.risk_assessments = own(case.risk_assessments)
        self.safety_plan = plan if plan and plan.institution_id == institution_id else None
        self.attachments = own(case.attachments)
        self.complaints = own(case.complaints)
        self.referrals = own(case.referrals, "from_institution_id")
        self.status_changes = own(case.status_changes)
        self.parties = own(case.parties)


def _own_parts_record(cipher: FieldCipher, case: Case, institution_id: int) -> dict[str, Any]:
    """That the record exists, and what this institution recorded; nothing others wrote,
    not even who else serves her (a shelter among the parties would say where she is)."""
    own = _OwnParts(case, institution_id)
    consent = case.consents[-1] if case.consents else None
    record = case_summary(case)
    record.update(
        risk_level=None,
        mandatory_report=case.mandatory_report,
        updated_at=_iso(case.updated_at),
        version=case.version,
        parties=[_party_record(party) for party in own.parties],
        survivor=None,
        incidents=[incident_record(cipher, incident) for incident in own.incidents],
        consent=consent_record(consent) if consent else None,
        consents=[],
        close_reason=case.close_reason,
        **care_parts(cipher, cast(Case, own), institution_id),
    )
    return record
