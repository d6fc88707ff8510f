"""The denuncia (PNC agents only) and its protection measures."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask_babel import gettext
from sqlalchemy import delete, insert, select
from sqlalchemy.orm.attributes import flag_modified

from app.audit.service import audit_change
from app.auth.caller import Caller
from app.auth.policy import may_file_complaint, may_update_measures
from app.auth.throttle_store import charge_write
from app.cases import access, breach, policy
from app.cases.aggressor_models import Aggressor
from app.cases.corrections import (
    NOTHING_CHANGED,
    Corrected,
    changed,
    check_version,
    record_correction,
)
from app.cases.legal_models import Complaint, ProtectionMeasure, complaint_incidents
from app.cases.models import Case, Incident
from app.core.db import DbSession
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.time import local_today, utcnow
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.directory.models import MeasureType

MEASURE_STATUSES = ("requested", "denied", "active", "expired", "revoked", "breached")
EXPIRY_WARNING_DAYS = 7


def _check_measure(session: DbSession, data: dict[str, Any], index: int) -> None:
    field = f"measures.{index}"
    if session.get(MeasureType, data["measure"]) is None:
        raise InvalidInput(
            "unknown measure", {field: {"measure": [gettext("Medida de protección desconocida.")]}}
        )
    starts, ends = data.get("starts_on"), data.get("ends_on")
    if starts and ends and ends < starts:
        raise InvalidInput(
            "dates", {field: {"ends_on": [gettext("La fecha de fin es anterior a la de inicio.")]}}
        )


def _measure_status(data: dict[str, Any]) -> str:
    if data.get("status"):
        return str(data["status"])
    return "active" if data.get("granted") else "requested"


def file_complaint(
    session: DbSession, ring: KeyRing, user: Caller, case_id: uuid.UUID | None, data: dict[str, Any]
) -> Complaint:
    if not may_file_complaint(user):
        raise Forbidden("only PNC and FGR staff register complaints")
    charge_write(user.id, "complaint")
    case = access.case_for(session, user, case_id).case
    if data["filed_on"] > local_today():
        raise InvalidInput("future date", {"filed_on": [gettext("La fecha no puede ser futura.")]})
    incident_ids = _case_incidents(session, case, data.get("incident_ids") or [])
    for index, measure in enumerate(data.get("measures") or []):
        _check_measure(session, measure, index)
        if _foreign_aggressor(session, case.id, measure.get("aggressor_id")):
            raise InvalidInput(
                "unknown aggressor", {f"measures.{index}": {"aggressor_id": [_not_his_message()]}}
            )
    cipher = access.cipher_of_loaded_case(ring, session, case.id)
    complaint_id = uuid.uuid4()
    complaint = Complaint(
        id=complaint_id,
        case_id=case.id,
        institution_id=user.institution_id,
        user_id=user.id,
        number_enc=cipher.seal("complaints", complaint_id, "number", data["number"]),
        filed_on=data["filed_on"],
        forward_to_prosecutor=bool(data.get("forward_to_prosecutor")),
    )
    session.add(complaint)
    session.flush()
    if incident_ids:
        session.execute(
            insert(complaint_incidents),
            [
                {"complaint_id": complaint.id, "incident_id": incident_id}
                for incident_id in incident_ids
            ],
        )
    for measure in data.get("measures") or []:
        session.add(_new_measure(cipher, complaint, measure))
    case.updated_at = utcnow()
    session.flush()
    audit_change(session, ring.audit_key, user, case.id, "complaint", complaint.id, "complaint")
    return complaint


def _new_measure(
    cipher: FieldCipher, complaint: Complaint, data: dict[str, Any]
) -> ProtectionMeasure:
    measure_id = uuid.uuid4()
    return ProtectionMeasure(
        id=measure_id,
        complaint_id=complaint.id,
        case_id=complaint.case_id,
        measure=data["measure"],
        requested=data.get("requested", True),
        granted=bool(data.get("granted")),
        court_enc=cipher.seal("protection_measures", measure_id, "court", data.get("court")),
        starts_on=data.get("starts_on"),
        ends_on=data.get("ends_on"),
        status=_measure_status(data),
        aggressor_id=data.get("aggressor_id"),
    )


def _case_incidents(session: DbSession, case: Case, wanted: list[uuid.UUID]) -> list[uuid.UUID]:
    """All the case's incidents when none are named; named ones must belong to the case."""
    in_force = select(Incident.id).where(Incident.case_id == case.id, Incident.voided_at.is_(None))
    ids = list(session.execute(in_force).scalars())
    if not wanted:
        return ids
    unknown = [str(i) for i in wanted if i not in set(ids)]
    if unknown:
        raise InvalidInput(
            "unknown incident", {"incident_ids": [gettext("No es un hecho de este expediente.")]}
        )
    return list(dict.fromkeys(wanted))


def update_measure(
    session: DbSession,
    ring: KeyRing,
    user: Caller,
    case_id: uuid.UUID | None,
    measure_id: uuid.UUID | None,
    data: dict[str, Any],
) -> ProtectionMeasure:
    """Grant, deny, revoke, record a breach or an expiry; PNC, FGR and court staff of a
    party institution."""
    if not may_update_measures(user):
        raise Forbidden("only PNC, FGR and court staff update protection measures")
    found = access.case_for(session, user, case_id)
    case = found.case
    measure = session.get(ProtectionMeasure, measure_id) if measure_id else None
    if (
        measure is None
        or measure.case_id != case.id
        or not policy.sees_part(found.view, user.institution_id, _filed_by(session, measure))
    ):
        raise NotFound("measure not found")
    if data.get("version") is not None and data["version"] != measure.version:
        raise Conflict("the measure changed since it was read")
    status_before = measure.status
    for field in ("status", "granted", "starts_on", "ends_on"):
        if field in data and data[field] is not None:
            setattr(measure, field, data[field])
    if data.get("aggressor_id") is not None:
        if _foreign_aggressor(session, case.id, data["aggressor_id"]):
            raise InvalidInput("unknown aggressor", {"aggressor_id": [_not_his_message()]})
        measure.aggressor_id = data["aggressor_id"]
    if data.get("court") is not None:
        cipher = access.cipher_of_loaded_case(ring, session, case.id)
        measure.court_enc = cipher.seal("protection_measures", measure.id, "court", data["court"])
    if measure.starts_on and measure.ends_on and measure.ends_on < measure.starts_on:
        raise InvalidInput(
            "dates", {"ends_on": [gettext("La fecha de fin es anterior a la de inicio.")]}
        )
    breach.record_breach(session, user, case.id, case.number, measure, status_before)
    case.updated_at = utcnow()
    session.flush()
    audit_change(
        session,
        ring.audit_key,
        user,
        case.id,
        "protection_measure",
        measure.id,
        f"measure:{measure.status}",
    )
    return measure


def _filed_by(session: DbSession, measure: ProtectionMeasure) -> int:
    return session.get_one(Complaint, measure.complaint_id).institution_id


def expiring_measures(
    session: DbSession, user: access.Subject, today: date | None = None
) -> list[tuple[ProtectionMeasure, str]]:
    """Active measures ending within a week on cases the user's institution takes part in."""
    return access.expiring_measures(session, user, today or local_today(), EXPIRY_WARNING_DAYS)


COMPLAINT_FIELDS = ("number", "filed_on", "forward_to_prosecutor", "incident_ids")


def correct_complaint(
    session: DbSession,
    ring: KeyRing,
    user: Caller,
    case_id: uuid.UUID | None,
    complaint_id: uuid.UUID | None,
    data: dict[str, Any],
) -> Corrected:
    """`PATCH /cases/{id}/complaints/{complaint_id}`: a PNC agent of the institution that
    filed it corrects the number, the date, the incidents it concerns; with a reason and
    the version read, kept in the record's corrections like any other."""
    if not may_file_complaint(user):
        raise Forbidden("only PNC and FGR staff correct complaints")
    found = access.case_for(session, user, case_id)
    case = found.case
    complaint = session.get(Complaint, complaint_id) if complaint_id else None
    if (
        complaint is None
        or complaint.case_id != case.id
        or not policy.sees_part(found.view, user.institution_id, complaint.institution_id)
    ):
        raise NotFound("complaint not found")
    if complaint.institution_id != user.institution_id:
        raise Forbidden("the institution that filed the complaint corrects it")
    check_version(complaint.version, data["version"])
    cipher = access.cipher_of_loaded_case(ring, session, case.id)
    current = _complaint_values(cipher, complaint)
    changes = changed(current, _wanted_complaint(session, case, data))
    if not changes:
        raise InvalidInput("nothing changed", {"_schema": [gettext(NOTHING_CHANGED)]})
    _write_complaint(session, cipher, complaint, changes)
    row = record_correction(
        session, cipher, user, case.id, ("complaint", str(complaint.id)), changes, data["reason"]
    )
    case.updated_at = utcnow()
    session.flush()
    detail = f"correction:{','.join(changes)}"
    audit_change(session, ring.audit_key, user, case.id, "complaint", complaint.id, detail)
    return Corrected(complaint.id, complaint.version, tuple(changes), row.id)


def _complaint_values(cipher: FieldCipher, complaint: Complaint) -> dict[str, Any]:
    return {
        "number": cipher.open_text("complaints", complaint.id, "number", complaint.number_enc),
        "filed_on": complaint.filed_on.isoformat(),
        "forward_to_prosecutor": complaint.forward_to_prosecutor,
        "incident_ids": sorted(str(incident.id) for incident in complaint.incident_ids),
    }


def _wanted_complaint(session: DbSession, case: Case, data: dict[str, Any]) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    if "number" in data:
        wanted["number"] = data["number"].strip()
    if "filed_on" in data:
        if data["filed_on"] > local_today():
            raise InvalidInput(
                "future date", {"filed_on": [gettext("La fecha no puede ser futura.")]}
            )
        wanted["filed_on"] = data["filed_on"].isoformat()
    if "forward_to_prosecutor" in data:
        wanted["forward_to_prosecutor"] = bool(data["forward_to_prosecutor"])
    if "incident_ids" in data:
        ids = _case_incidents(session, case, data["incident_ids"])
        wanted["incident_ids"] = sorted(str(incident_id) for incident_id in ids)
    return wanted


def _write_complaint(
    session: DbSession, cipher: FieldCipher, complaint: Complaint, changes: dict[str, list[Any]]
) -> None:
    for field, (_, value) in changes.items():
        if field == "number":
            complaint.number_enc = cipher.seal("complaints", complaint.id, "number", value)
        elif field == "filed_on":
            complaint.filed_on = date.fromisoformat(value)
        elif field == "forward_to_prosecutor":
            complaint.forward_to_prosecutor = value
    if "incident_ids" in changes:
        session.execute(
            delete(complaint_incidents).where(complaint_incidents.c.complaint_id == complaint.id)
        )
        session.execute(
            insert(complaint_incidents),
            [
                {"complaint_id": complaint.id, "incident_id": uuid.UUID(incident_id)}
                for incident_id in changes["incident_ids"][1]
            ],
        )
        # Only the link table changed: touch the row, so that its version moves too.
        flag_modified(complaint, "forward_to_prosecutor")
        session.expire(complaint, ["incident_ids"])


def _not_his_message() -> str:
    return gettext("No es un agresor registrado en este expediente.")


def _foreign_aggressor(
    session: DbSession, case_id: uuid.UUID, aggressor_id: uuid.UUID | None
) -> bool:
    """A measure names an aggressor of its own case, or none."""
    if aggressor_id is None:
        return False
    row = session.get(Aggressor, aggressor_id)
    return row is None or row.case_id != case_id
