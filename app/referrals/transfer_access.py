"""The loader of transfers: the one way to a transfer of the lead, and to its case.

A transfer is known to the institution that asked it and the one asked; to anyone else
it does not exist (404). A supervisor stands in for an institution with no case workers,
for its incoming transfers only (as for referrals, `referrals.access`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import or_, select

from app.cases import access as case_access
from app.cases.models import Case
from app.core.db import DbSession
from app.core.errors import Forbidden, NotFound
from app.referrals import policy
from app.referrals.access import answers_for_institution
from app.referrals.models import CaseTransfer


@dataclass(frozen=True)
class TransferAccess:
    transfer: CaseTransfer
    case: Case
    sides: frozenset[str]


def transfer_for(
    session: DbSession, caller: case_access.Subject, transfer_id: uuid.UUID | None
) -> TransferAccess:
    """A transfer the caller's institution asked or was asked; 404 for anyone else. A
    supervisor stands in only for the incoming ones of an institution without workers."""
    institution_id = caller.institution_id
    standing_in = stands_in(session, caller)
    mine = (
        CaseTransfer.to_institution_id == institution_id
        if standing_in
        else or_(
            CaseTransfer.from_institution_id == institution_id,
            CaseTransfer.to_institution_id == institution_id,
        )
    )
    stmt = select(CaseTransfer).where(CaseTransfer.id == transfer_id, mine)
    transfer = session.execute(stmt).scalar_one_or_none() if transfer_id else None
    if transfer is None:
        raise NotFound("transfer not found")
    case = case_access.case_of_referral(session, transfer.case_id, with_survivor=False)
    if case.purged_at is not None:
        raise NotFound("transfer not found")
    return TransferAccess(transfer, case, _sides(institution_id, transfer, standing_in))


def stands_in(session: DbSession, caller: case_access.Subject) -> bool:
    """A case worker acts for her institution; a supervisor only stands in for one that
    has no case workers (True); anyone else is Forbidden."""
    standing_in = not case_access.works_on_cases(caller)
    if standing_in and not answers_for_institution(session, caller):
        raise Forbidden("this role does not work on transfers")
    return standing_in


def _sides(institution_id: int, transfer: CaseTransfer, standing_in: bool) -> frozenset[str]:
    sides = set()
    if transfer.to_institution_id == institution_id:
        sides.add("receiver")
    if transfer.from_institution_id == institution_id and not standing_in:
        sides.add("sender")
    return frozenset(sides)


def pending_transfer(session: DbSession, case_id: uuid.UUID) -> CaseTransfer | None:
    stmt = select(CaseTransfer).where(
        CaseTransfer.case_id == case_id, CaseTransfer.status == policy.REQUESTED
    )
    return session.execute(stmt).scalar_one_or_none()
