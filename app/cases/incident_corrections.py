"""Correcting an incident, and voiding one entered in error.

The institution that recorded an incident, or a party that sees the whole record,
corrects it (with a reason and the version it read) or voids it. A voided incident is
kept and shown as "anulado", never deleted, and never counted: statistics, indicators
and exports filter `voided_at IS NULL`. The last incident in force of a case is not
voided: a case opened in error is closed instead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext
from sqlalchemy import delete, func, insert, select

from app.audit.service import audit, audit_change
from app.auth.caller import Caller
from app.cases import access, care, policy
from app.cases.corrections import (
    NOTHING_CHANGED,
    Corrected,
    changed,
    check_version,
    record_correction,
)
from app.cases.models import Case, Incident, incident_violence_types
from app.cases.risk import incident_reasons
from app.cases.service import _incident_date_problem, open_survivor, resolve_municipality
from app.cases.vocab import age_group, age_on, context_of, gbvims_type
from app.core.db import DbSession
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.i18n import N_
from app.core.time import utcnow
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for

PLAIN_FIELDS = (
    "occurred_on",
    "municipality",
    "place_type",
    "modality",
    "violence_types",
    "penetration",
    "perpetrator_relationship",
    "weapon",
    "children_present",
    "strangulation",
)
SEALED_FIELDS = ("perpetrator_details", "narrative")
VOIDED = N_("El hecho está anulado: ya no se corrige.")
LAST_INCIDENT = N_(
    "Es el único hecho vigente del expediente y no se puede anular. Si el expediente se "
    "abrió por error, ciérrelo."
)


def _incident_of(
    session: DbSession, caller: Caller, case_id: uuid.UUID | None, incident_id: uuid.UUID | None
) -> tuple[Case, Incident]:
    """The incident, if the caller may correct it; 404 otherwise (as for a part of the
    record she does not see)."""
    found = access.case_for(session, caller, case_id)
    incident = session.get(Incident, incident_id) if incident_id else None
    if (
        incident is None
        or incident.case_id != found.case.id
        or not policy.may_correct_part(
            found.view, caller.institution_id, incident.entry_institution_id
        )
    ):
        raise NotFound("incident not found")
    if incident.voided_at is not None:
        raise Conflict(gettext(VOIDED))
    return found.case, incident


def correct_incident(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    incident_id: uuid.UUID | None,
    data: dict[str, Any],
) -> Corrected:
    """`PATCH /cases/{id}/incidents/{incident_id}`: the fields sent change; the counted
    columns (GBVIMS type, context, age group, violence types) follow them, and a
    feminicidal, firearm or strangulation incident makes the case high at once."""
    case, incident = _incident_of(session, caller, case_id, incident_id)
    check_version(incident.version, data["version"])
    cipher = cipher_for(ring, case.data_key)
    current = incident_values(cipher, incident)
    changes = changed(current, _wanted(session, data))
    after = {**current, **{field: pair[1] for field, pair in changes.items()}}
    if not changes:
        raise InvalidInput("nothing changed", {"_schema": [gettext(NOTHING_CHANGED)]})
    row = None
    if changes:
        _check(cipher, case, after)
        _write(session, cipher, case, incident, after, changes, data)
        row = record_correction(
            session,
            cipher,
            caller,
            case.id,
            ("incident", str(incident.id)),
            changes,
            data["reason"],
        )
        case.updated_at = utcnow()
        session.flush()
        detail = f"correction:{','.join(changes)}"
        audit_change(session, ring.audit_key, caller, case.id, "incident", incident.id, detail)
    reasons = incident_reasons(
        after["violence_types"], after["weapon"], bool(after["strangulation"])
    )
    care.raise_risk_for_incident(session, ring, caller, case, reasons)
    session.flush()
    return Corrected(incident.id, incident.version, tuple(changes), row.id if row else None)


def incident_values(cipher: FieldCipher, incident: Incident) -> dict[str, Any]:
    values: dict[str, Any] = {field: getattr(incident, field) for field in PLAIN_FIELDS}
    values["occurred_on"] = incident.occurred_on.isoformat()
    values["violence_types"] = sorted(incident.violence_types)
    values["strangulation"] = bool(incident.strangulation)
    for field in SEALED_FIELDS:
        values[field] = cipher.open_text(
            "incidents", incident.id, field, getattr(incident, f"{field}_enc")
        )
    return values


def _wanted(session: DbSession, data: dict[str, Any]) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    for field in (*PLAIN_FIELDS, *SEALED_FIELDS):
        if field not in data:
            continue
        value = data[field]
        if field == "occurred_on":
            value = value.isoformat()
        elif field == "municipality":
            value = resolve_municipality(session, value, "municipality")
        elif field == "violence_types":
            value = sorted(set(value))
        elif isinstance(value, str):
            value = value.strip() or None
        wanted[field] = value
    return wanted


def _check(cipher: FieldCipher, case: Case, after: dict[str, Any]) -> None:
    """What intake checks, on the values after the correction."""
    birth = open_survivor(cipher, case.survivor, "birth_date")
    birth_date = date.fromisoformat(birth) if birth else None
    problem = _incident_date_problem(date.fromisoformat(after["occurred_on"]), birth_date)
    if problem:
        raise InvalidInput(problem, {"occurred_on": [problem]})
    if after["penetration"] and "sexual" not in after["violence_types"]:
        raise InvalidInput(
            "penetration", {"penetration": [gettext("Solo aplica a la violencia sexual.")]}
        )


def _write(
    session: DbSession,
    cipher: FieldCipher,
    case: Case,
    incident: Incident,
    after: dict[str, Any],
    changes: dict[str, list[Any]],
    data: dict[str, Any],
) -> None:
    for field in changes:
        if field in SEALED_FIELDS:
            setattr(
                incident, f"{field}_enc", cipher.seal("incidents", incident.id, field, after[field])
            )
        elif field == "occurred_on":
            incident.occurred_on = date.fromisoformat(after[field])
        elif field == "violence_types":
            incident.violence_codes = " ".join(after[field])
        else:
            setattr(incident, field, after[field])
    _derive(cipher, case, incident, after, data)
    # Last: the statements below flush the row, and one UPDATE moves its version once.
    if "violence_types" in changes:
        session.execute(
            delete(incident_violence_types).where(
                incident_violence_types.c.incident_id == incident.id
            )
        )
        session.execute(
            insert(incident_violence_types),
            [
                {"incident_id": incident.id, "violence_type": code}
                for code in after["violence_types"]
            ],
        )


def _derive(
    cipher: FieldCipher, case: Case, incident: Incident, after: dict[str, Any], data: dict[str, Any]
) -> None:
    """The columns statistics count, derived again from the corrected values. What was
    not stored (unwanted sexual contact, forced marriage) is read from the old type."""
    birth = open_survivor(cipher, case.survivor, "birth_date")
    age = age_on(date.fromisoformat(birth), incident.occurred_on) if birth else None
    types = after["violence_types"]
    sexual_contact = data.get("sexual_contact", incident.gbvims_type == "sexual_assault")
    forced = data.get("forced_marriage", incident.gbvims_type == "forced_marriage")
    incident.gbvims_type = gbvims_type(
        types, bool(after["penetration"]), bool(sexual_contact), bool(forced)
    )
    incident.age_group = age_group(age) if age is not None else None
    incident.context = context_of(after["perpetrator_relationship"], types, age)


# ---- voiding ---------------------------------------------------------------------------


def void_incident(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    incident_id: uuid.UUID | None,
    data: dict[str, Any],
) -> Incident:
    """`POST …/incidents/{incident_id}/void`: entered in error (twice, on the wrong
    record). Kept and marked, never deleted, never counted again."""
    case, incident = _incident_of(session, caller, case_id, incident_id)
    in_force = session.execute(
        select(func.count())
        .select_from(Incident)
        .where(
            Incident.case_id == case.id, Incident.voided_at.is_(None), Incident.id != incident.id
        )
    ).scalar_one()
    if not in_force:
        raise InvalidInput("last incident", {"_schema": [gettext(LAST_INCIDENT)]})
    cipher = cipher_for(ring, case.data_key)
    incident.voided_at = utcnow()
    incident.voided_by_user_id = caller.id
    incident.void_reason_enc = cipher.seal(
        "incidents", incident.id, "void_reason", data["reason"].strip()
    )
    record_correction(
        session,
        cipher,
        caller,
        case.id,
        ("incident", str(incident.id)),
        {"voided": [None, incident.voided_at.isoformat()]},
        data["reason"],
    )
    case.updated_at = utcnow()
    session.flush()
    audit_change(
        session, ring.audit_key, caller, case.id, "incident", incident.id, "incident_voided"
    )
    return incident


@dataclass(frozen=True)
class IncidentToCorrect:
    case: Case
    incident_id: uuid.UUID
    values: dict[str, Any]
    version: int


def incident_to_correct(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    incident_id: uuid.UUID | None,
) -> IncidentToCorrect:
    """The incident as it stands, for the correction form: decrypted, so audited."""
    case, incident = _incident_of(session, caller, case_id, incident_id)
    values = incident_values(cipher_for(ring, case.data_key), incident)
    audit(
        session,
        ring.audit_key,
        caller,
        "case_view",
        object_type="incident",
        object_id=incident.id,
        case_id=case.id,
        detail="correction_form",
    )
    return IncidentToCorrect(case, incident.id, values, incident.version)
