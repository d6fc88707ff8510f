"""The justice pathway in her record: each complaint's history and hearings, and her
choice about the status lookup; shaped for a view `access` already decided."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from app.cases import access
from app.cases.justice_models import ComplaintMove, Hearing, HearingNotice
from app.cases.legal_models import Complaint
from app.cases.present import complaint_record, iso
from app.core.db import DbSession
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.directory.models import Institution


def move_record(move: ComplaintMove, institution_code: str) -> dict[str, Any]:
    return {
        "action": move.action,
        "from_status": move.from_status,
        "to_status": move.to_status,
        "moved_on": iso(move.moved_on),
        "at": iso(move.at),
        "institution": institution_code,
    }


def hearing_record(cipher: FieldCipher, hearing: Hearing, court: Institution) -> dict[str, Any]:
    return {
        "id": str(hearing.id),
        "complaint_id": str(hearing.complaint_id),
        "starts_at": iso(hearing.starts_at),
        "court_id": court.id,
        "court": court.name,
        "kind": hearing.kind,
        "outcome": hearing.outcome,
        "note": cipher.open_text("hearings", hearing.id, "note", hearing.note_enc),
        "version": hearing.version,
    }


def notice_record(notice: HearingNotice | None) -> dict[str, Any] | None:
    if notice is None:
        return None
    return {
        "show_hearings_in_status": notice.show_hearings_in_status,
        "given_by": notice.given_by,
        "recorded_at": iso(notice.recorded_at),
    }


def _moves(session: DbSession, ids: list[Any]) -> list[tuple[ComplaintMove, str]]:
    stmt = (
        select(ComplaintMove, Institution.code)
        .join(Institution, Institution.id == ComplaintMove.institution_id)
        .where(ComplaintMove.complaint_id.in_(ids))
        .order_by(ComplaintMove.id)
    )
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


def _hearings(session: DbSession, ids: list[Any]) -> list[tuple[Hearing, Institution]]:
    stmt = (
        select(Hearing, Institution)
        .join(Institution, Institution.id == Hearing.court_id)
        .where(Hearing.complaint_id.in_(ids))
        .order_by(Hearing.starts_at, Hearing.id)
    )
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


def with_pathway(
    session: DbSession,
    cipher: FieldCipher,
    complaints: list[dict[str, Any]],
    present: frozenset[str] = frozenset({"complaint_moves", "hearings"}),
) -> list[dict[str, Any]]:
    """The complaints the view shows, each with its moves and its hearings; `present`
    says which of the two the case has at all (the loader asked), so no query looks
    for rows that are not there."""
    ids = [uuid.UUID(c["id"]) for c in complaints]
    by_id = {c["id"]: {**c, "status_history": [], "hearings": []} for c in complaints}
    if not ids:
        return list(by_id.values())
    moves = _moves(session, ids) if "complaint_moves" in present else []
    for move, code in moves:
        by_id[str(move.complaint_id)]["status_history"].append(move_record(move, code))
    hearings = _hearings(session, ids) if "hearings" in present else []
    for hearing, court in hearings:
        by_id[str(hearing.complaint_id)]["hearings"].append(hearing_record(cipher, hearing, court))
    return list(by_id.values())


def newest_notice(session: DbSession, case_id: Any) -> HearingNotice | None:
    stmt = (
        select(HearingNotice)
        .where(HearingNotice.case_id == case_id)
        .order_by(HearingNotice.id.desc())
        .limit(1)
    )
    return session.execute(stmt).scalars().first()


def pathway_parts(
    session: DbSession,
    cipher: FieldCipher,
    case_id: Any,
    record: dict[str, Any],
    present: frozenset[str],
) -> dict[str, Any]:
    """What the justice pathway adds to a record read (not the metadata view); `present`
    names the parts the loader found on the case."""
    notice = newest_notice(session, case_id) if "hearing_notices" in present else None
    return {
        "complaints": with_pathway(session, cipher, record.get("complaints") or [], present),
        "hearing_notice": notice_record(notice),
    }


def complaint_state(ring: KeyRing, session: DbSession, complaint: Complaint) -> dict[str, Any]:
    """A complaint its service has just changed (the caller's access was checked there)."""
    cipher = access.cipher_of_loaded_case(ring, session, complaint.case_id)
    record = complaint_record(cipher, complaint)
    return with_pathway(session, cipher, [record])[0]


def hearing_state(ring: KeyRing, session: DbSession, hearing: Hearing) -> dict[str, Any]:
    cipher = access.cipher_of_loaded_case(ring, session, hearing.case_id)
    return hearing_record(cipher, hearing, session.get_one(Institution, hearing.court_id))
