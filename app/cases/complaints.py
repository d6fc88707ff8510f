"""The denuncia (PNC agents only) and its protection measures."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import insert, select

from app.auth.models import User
from app.auth.policy import may_file_complaint
from app.cases.legal_models import Complaint, MeasureType, ProtectionMeasure, complaint_incidents
from app.cases.models import Case, CaseParty, Incident
from app.cases.service import get_case_for
from app.common import Conflict, DbSession, Forbidden, InvalidInput, NotFound, local_today, utcnow

MEASURE_STATUSES = ("requested", "denied", "active", "expired", "revoked", "breached")
EXPIRY_WARNING_DAYS = 7


def _check_measure(session: DbSession, data: dict[str, Any], index: int) -> None:
    field = f"measures.{index}"
    if session.get(MeasureType, data["measure"]) is None:
        raise InvalidInput(
            "unknown measure", {field: {"measure": ["Medida de protección desconocida."]}}
        )
    starts, ends = data.get("starts_on"), data.get("ends_on")
    if starts and ends and ends < starts:
        raise InvalidInput(
            "dates", {field: {"ends_on": ["La fecha de fin es anterior a la de inicio."]}}
        )


def _measure_status(data: dict[str, Any]) -> str:
    if data.get("status"):
        return str(data["status"])
    return "active" if data.get("granted") else "requested"


def file_complaint(
    session: DbSession, user: User, case_id: uuid.UUID | None, data: dict[str, Any]
) -> Complaint:
    if not may_file_complaint(user):
        raise Forbidden("only PNC agents register complaints")
    case = get_case_for(session, user, case_id)
    if data["filed_on"] > local_today():
        raise InvalidInput("future date", {"filed_on": ["La fecha no puede ser futura."]})
    incident_ids = _case_incidents(session, case, data.get("incident_ids") or [])
    for index, measure in enumerate(data.get("measures") or []):
        _check_measure(session, measure, index)
    complaint = Complaint(
        id=uuid.uuid4(),
        case_id=case.id,
        institution_id=user.institution_id,
        user_id=user.id,
        number=data["number"],
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
        session.add(_new_measure(complaint, measure))
    case.updated_at = utcnow()
    session.flush()
    return complaint


def _new_measure(complaint: Complaint, data: dict[str, Any]) -> ProtectionMeasure:
    return ProtectionMeasure(
        id=uuid.uuid4(),
        complaint_id=complaint.id,
        case_id=complaint.case_id,
        measure=data["measure"],
        requested=data.get("requested", True),
        granted=bool(data.get("granted")),
        court=data.get("court"),
        starts_on=data.get("starts_on"),
        ends_on=data.get("ends_on"),
        status=_measure_status(data),
    )


def _case_incidents(session: DbSession, case: Case, wanted: list[uuid.UUID]) -> list[uuid.UUID]:
    """All the case's incidents when none are named; named ones must belong to the case."""
    ids = list(session.execute(select(Incident.id).where(Incident.case_id == case.id)).scalars())
    if not wanted:
        return ids
    unknown = [str(i) for i in wanted if i not in set(ids)]
    if unknown:
        raise InvalidInput(
            "unknown incident", {"incident_ids": ["No es un hecho de este expediente."]}
        )
    return list(dict.fromkeys(wanted))


def update_measure(
    session: DbSession,
    user: User,
    case_id: uuid.UUID | None,
    measure_id: uuid.UUID | None,
    data: dict[str, Any],
) -> ProtectionMeasure:
    """Grant, deny, revoke, record a breach or an expiry; PNC agents of a party institution."""
    if not may_file_complaint(user):
        raise Forbidden("only PNC agents update protection measures")
    case = get_case_for(session, user, case_id)
    measure = session.get(ProtectionMeasure, measure_id) if measure_id else None
    if measure is None or measure.case_id != case.id:
        raise NotFound("measure not found")
    if data.get("version") is not None and data["version"] != measure.version:
        raise Conflict("the measure changed since it was read")
    for field in ("status", "granted", "court", "starts_on", "ends_on"):
        if field in data and data[field] is not None:
            setattr(measure, field, data[field])
    if measure.starts_on and measure.ends_on and measure.ends_on < measure.starts_on:
        raise InvalidInput("dates", {"ends_on": ["La fecha de fin es anterior a la de inicio."]})
    case.updated_at = utcnow()
    session.flush()
    return measure


def expiring_measures(
    session: DbSession, user: User, today: date | None = None
) -> list[tuple[ProtectionMeasure, str]]:
    """Active measures ending within a week on cases the user's institution takes part in."""
    today = today or local_today()
    stmt = (
        select(ProtectionMeasure, Case.number)
        .join(Case, Case.id == ProtectionMeasure.case_id)
        .join(CaseParty, CaseParty.case_id == Case.id)
        .where(
            CaseParty.institution_id == user.institution_id,
            CaseParty.ended_at.is_(None),
            ProtectionMeasure.status == "active",
            ProtectionMeasure.ends_on.between(today, today + timedelta(days=EXPIRY_WARNING_DAYS)),
        )
        .order_by(ProtectionMeasure.ends_on)
        .distinct()
    )
    return [(row[0], row[1]) for row in session.execute(stmt).all()]
