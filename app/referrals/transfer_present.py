"""What each side reads of a transfer of the lead, and what the pages list: codes and
dates everywhere, the texts only where `referrals.policy.transfer_note_visible` says."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.auth.caller import Caller
from app.cases import access as case_access
from app.cases import policy as case_policy
from app.core.db import DbSession
from app.core.errors import Forbidden
from app.crypto.envelope import FieldCipher
from app.directory.models import Institution
from app.referrals import policy
from app.referrals.models import CaseTransfer
from app.referrals.transfer_access import TransferAccess, stands_in


def present_for(
    session: DbSession, caller: Caller, found: TransferAccess, cipher: FieldCipher
) -> dict[str, Any]:
    """The transfer with its texts only where `policy.transfer_note_visible` says so."""
    transfer, case = found.transfer, found.case
    is_sender = "sender" in found.sides
    reads = policy.transfer_note_visible(
        is_sender=is_sender,
        sender_is_party=is_sender
        and case_access.has_live_party(session, case.id, caller.institution_id),
        is_receiver="receiver" in found.sides,
        status=transfer.status,
        receiver_full=case_access.view_of(session, caller, case.id) == case_policy.FULL,
    )
    return present_transfer(transfer, case.number, cipher if reads else None)


def present_transfer(
    transfer: CaseTransfer, number: str, cipher: FieldCipher | None = None
) -> dict[str, Any]:
    """Codes and dates; the note and the decline's reason only given a cipher."""

    def opened(column: str, sealed: bytes | None) -> str | None:
        if cipher is None:
            return None
        return cipher.open_text("case_transfers", transfer.id, column, sealed)

    return {
        "id": str(transfer.id),
        "case_id": str(transfer.case_id),
        "case_number": number,
        "from_institution": _institution(transfer.from_institution),
        "to_institution": _institution(transfer.to_institution),
        "reason": transfer.reason,
        "status": transfer.status,
        "requested_at": transfer.requested_at.isoformat(),
        "answered_at": transfer.answered_at.isoformat() if transfer.answered_at else None,
        "version": transfer.version,
        "note": opened("note", transfer.note_enc),
        "decline_reason": opened("decline_reason", transfer.decline_reason_enc),
    }


def _institution(institution: Institution) -> dict[str, Any]:
    return {"id": institution.id, "code": institution.code, "name": institution.name}


def list_transfers(
    session: DbSession, caller: case_access.Subject, box: str, limit: int = 200
) -> list[dict[str, Any]]:
    """The institution's incoming or outgoing transfers, newest first: codes and dates
    only, nothing decrypted (a supervisor standing in sees the incoming ones)."""
    standing_in = stands_in(session, caller)
    outgoing = box == "outgoing" and not standing_in
    column = CaseTransfer.from_institution_id if outgoing else CaseTransfer.to_institution_id
    stmt = (
        select(CaseTransfer)
        .where(column == caller.institution_id)
        .order_by(CaseTransfer.requested_at.desc())
        .limit(limit)
    )
    rows = list(session.execute(stmt).scalars())
    numbers = case_access.case_numbers(session, {row.case_id for row in rows})
    return [present_transfer(row, numbers[row.case_id]) for row in rows]


# ---- what the pages need -------------------------------------------------------------


@dataclass(frozen=True)
class TransferChoices:
    case_id: uuid.UUID
    number: str
    # (id, "name (code)"): the institutions the lead may hand the lead to.
    institutions: list[tuple[int, str]]


def transfer_choices(
    session: DbSession, caller: Caller, case_id: uuid.UUID | None
) -> TransferChoices:
    """The form "Traspasar la coordinación": only the lead gets it (403 for the others)."""
    found = case_access.case_for(session, caller, case_id, need=case_policy.WHOLE)
    case = found.case
    is_lead = case.lead_institution_id == caller.institution_id
    if not policy.may_request_transfer(found.view, is_lead):
        raise Forbidden("only the lead institution hands the lead over")
    excluded = set(case_access.excluded_institutions(session, case.id))
    stmt = select(Institution).where(Institution.active.is_(True)).order_by(Institution.name)
    institutions = [
        (row.id, f"{row.name} ({row.code})")
        for row in session.execute(stmt).scalars()
        if row.id not in excluded
        and policy.may_be_transfer_target(row.kind, row.active, row.id == case.lead_institution_id)
    ]
    return TransferChoices(case.id, case.number, institutions)


def transfer_boxes(session: DbSession, caller: case_access.Subject) -> dict[str, Any]:
    """Both boxes of the transfers page (a supervisor standing in has the incoming one)."""
    incoming = list_transfers(session, caller, "incoming")
    outgoing = (
        list_transfers(session, caller, "outgoing") if case_access.works_on_cases(caller) else []
    )
    return {"incoming": incoming, "outgoing": outgoing}
