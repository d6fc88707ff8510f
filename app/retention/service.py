"""Legal holds and her erasure requests: set, asked and decided by people, each audited.

A supervisor of the case's department sets or lifts a legal hold with a reason (sealed
under the case's key); a held record is never purged. A party with the whole record asks
to erase it on her behalf, with the legal basis and a reason (sealed); a supervisor who
did not ask approves or rejects, as with merges; the next `records purge` carries out an
approved erasure. Erasure is refused while the law still keeps the record (policy.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from app.audit.service import audit
from app.auth.caller import Caller
from app.cases import access
from app.cases import policy as case_policy
from app.cases.legal_models import Complaint, ProtectionMeasure
from app.cases.models import Case
from app.core.db import DbSession
from app.core.errors import CasePurged, Conflict, Forbidden, InvalidInput, NotFound
from app.core.time import utcnow
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for
from app.notifications.service import notify_supervisors
from app.referrals.access import referrals_of_case
from app.referrals.service import LIVE
from app.retention import policy
from app.retention.models import ErasureRequest

REASON_MIN = 10


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if len(text) < REASON_MIN:
        raise InvalidInput(
            "reason required",
            {
                "reason": [
                    gettext("Explique el motivo, en al menos %(n)s caracteres.", n=REASON_MIN)
                ]
            },
        )
    return text


def _require_supervisor(caller: Caller) -> None:
    if not policy.may_hold(caller.role, caller.active):
        raise Forbidden("only supervisors set legal holds and decide erasures")


def _supervised_case(
    session: DbSession, caller: Caller, case_id: uuid.UUID | None, department: str
) -> Case:
    """A case of the supervisor's department (404 otherwise), with its data key."""
    _require_supervisor(caller)
    found = access.case_for(
        session, caller, case_id, need=case_policy.READ, department=department, purged_ok=True
    )
    case = access.case_by_id(session, found.case.id)
    if case.purged_at is not None:
        raise CasePurged()
    return case


# ---- legal hold -----------------------------------------------------------------------


def set_legal_hold(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    hold: bool,
    reason: str | None,
    department: str,
) -> dict[str, Any]:
    """Set (or lift) the hold; both need a reason. The set reason is sealed in the case;
    lifting says why in the audit's detail code only."""
    case = _supervised_case(session, caller, case_id, department)
    text = _reason(reason)
    if hold == (case.legal_hold_at is not None):
        raise Conflict(
            gettext("El expediente ya tiene esa retención legal.")
            if hold
            else gettext("No hay retención legal que levantar.")
        )
    if hold:
        case.legal_hold_at, case.legal_hold_by_user_id = utcnow(), caller.id
        case.legal_hold_reason_enc = cipher_for(ring, case.data_key).seal(
            "cases", case.id, "legal_hold_reason", text
        )
    else:
        case.legal_hold_at = case.legal_hold_by_user_id = case.legal_hold_reason_enc = None
    session.flush()
    audit(
        session,
        ring.audit_key,
        caller,
        "legal_hold",
        object_type="case",
        object_id=case.id,
        case_id=case.id,
        detail="set" if hold else "lifted",
    )
    notify_supervisors(
        session, "legal_hold", case_id=case.id, reference=case.number, except_user_id=caller.id
    )
    return hold_record(ring, case)


def hold_record(ring: KeyRing, case: Case) -> dict[str, Any]:
    held = case.legal_hold_at is not None
    reason = None
    if held and case.legal_hold_reason_enc is not None:
        reason = cipher_for(ring, case.data_key).open_text(
            "cases", case.id, "legal_hold_reason", case.legal_hold_reason_enc
        )
    return {
        "case_id": str(case.id),
        "number": case.number,
        "legal_hold": held,
        "since": case.legal_hold_at.isoformat() if case.legal_hold_at else None,
        "reason": reason,
    }


# ---- erasure --------------------------------------------------------------------------


def erasure_obstacles(session: DbSession, case: Case) -> list[str]:
    from app.core.time import local_today

    measures = select(ProtectionMeasure.id).where(
        ProtectionMeasure.case_id == case.id,
        ProtectionMeasure.status == "active",
        (ProtectionMeasure.ends_on.is_(None)) | (ProtectionMeasure.ends_on >= local_today()),
    )
    complaints = select(Complaint.id).where(Complaint.case_id == case.id)
    state = policy.ErasureState(
        closed=case.status == case_policy.CLOSED,
        held=case.legal_hold_at is not None,
        purged=case.purged_at is not None,
        live_referrals=any(r.status in LIVE for r in referrals_of_case(session, case.id)),
        measures_in_force=session.execute(measures.limit(1)).first() is not None,
        complaint_filed=session.execute(complaints.limit(1)).first() is not None,
    )
    return policy.erasure_obstacles(state)


def _refuse_if_kept(session: DbSession, case: Case) -> None:
    obstacles = erasure_obstacles(session, case)
    if obstacles:
        raise Conflict(policy.refusal_message(obstacles))


def _pending_or_approved(session: DbSession, case_id: uuid.UUID) -> bool:
    stmt = select(ErasureRequest.id).where(
        ErasureRequest.case_id == case_id, ErasureRequest.status.in_(("pending", "approved"))
    )
    return session.execute(stmt.limit(1)).first() is not None


def request_erasure(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    legal_basis: str,
    reason: str | None,
) -> dict[str, Any]:
    """Her request, recorded by a party with the whole record (202: a supervisor decides)."""
    case = access.case_for(session, caller, case_id, need=case_policy.WHOLE, closed_ok=True).case
    if legal_basis not in policy.LEGAL_BASES:
        raise InvalidInput("legal basis", {"legal_basis": [gettext("Elija la base legal.")]})
    text = _reason(reason)
    _refuse_if_kept(session, case)
    if _pending_or_approved(session, case.id):
        raise Conflict(gettext("Ya hay una solicitud de supresión para este expediente."))
    request = ErasureRequest(
        id=uuid.uuid4(),
        case_id=case.id,
        legal_basis=legal_basis,
        requested_by_user_id=caller.id,
        requested_by_institution_id=caller.institution_id,
    )
    request.reason_enc = (
        cipher_for(ring, case.data_key).seal("erasure_requests", request.id, "reason", text) or b""
    )
    session.add(request)
    session.flush()
    _audit_erasure(session, ring, caller, request, "requested")
    notify_supervisors(session, "erasure_request", case_id=case.id, reference=case.number)
    return described(request, case.number)


def review_erasure(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    request_id: uuid.UUID | None,
    approve: bool,
    department: str,
) -> dict[str, Any]:
    """A supervisor who did not ask approves (the next purge shreds it) or rejects; the
    law's obstacles are checked again, since the record may have changed meanwhile."""
    _require_supervisor(caller)
    request = session.get(ErasureRequest, request_id, with_for_update=True) if request_id else None
    if request is None:
        raise NotFound("erasure request not found")
    case = _supervised_case(session, caller, request.case_id, department)
    if request.requested_by_user_id == caller.id:
        raise Forbidden("who asked for an erasure does not approve it")
    if request.status != "pending":
        raise Conflict(gettext("Esta solicitud ya fue decidida."))
    if approve:
        _refuse_if_kept(session, case)
    request.status = "approved" if approve else "rejected"
    request.decided_by_user_id, request.decided_at = caller.id, utcnow()
    session.flush()
    _audit_erasure(session, ring, caller, request, request.status)
    return described(request, case.number)


def _audit_erasure(
    session: DbSession, ring: KeyRing, caller: Caller, request: ErasureRequest, what: str
) -> None:
    audit(
        session,
        ring.audit_key,
        caller,
        "erasure_request",
        object_type="erasure_request",
        object_id=request.id,
        case_id=request.case_id,
        detail=f"{what};basis={request.legal_basis}",
    )


def described(request: ErasureRequest, number: str) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": str(request.id),
        "case_id": str(request.case_id),
        "number": number,
        "status": request.status,
        "legal_basis": request.legal_basis,
        "requested_at": iso(request.requested_at),
        "requested_by_user_id": request.requested_by_user_id,
        "decided_at": iso(request.decided_at),
        "carried_out_at": iso(request.carried_out_at),
    }


def erasure_list(session: DbSession, caller: Caller) -> list[dict[str, Any]]:
    """The supervisors' queue: requests to decide and approved ones the purge has not yet
    carried out. Numbers, dates and legal basis only: no name, no reason."""
    _require_supervisor(caller)
    stmt = (
        select(ErasureRequest)
        .where(ErasureRequest.status.in_(("pending", "approved")))
        .order_by(ErasureRequest.requested_at)
        .limit(200)
    )
    requests = list(session.execute(stmt).scalars())
    numbers = access.case_numbers(session, {r.case_id for r in requests})
    return [described(r, numbers[r.case_id]) for r in requests]


def approved_erasures(session: DbSession) -> dict[uuid.UUID, ErasureRequest]:
    stmt = select(ErasureRequest).where(ErasureRequest.status == "approved")
    return {row.case_id: row for row in session.execute(stmt).scalars()}
