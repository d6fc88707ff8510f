"""The loader of referrals: the one way to a referral, and to the case behind it.

A referral is known to the institution that sent it and the one that received it; to
anyone else it does not exist (404). What each side may read of it is decided by
`referrals.policy`; the case itself is reached through `app.cases.access` only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from app.auth.models import CASE_ROLES, User
from app.cases import access as case_access
from app.cases.models import Case
from app.core.db import DbSession
from app.core.errors import Conflict, Forbidden, NotFound
from app.referrals.models import Referral
from app.referrals.policy import referral_text_visible


@dataclass(frozen=True)
class ReferralAccess:
    referral: Referral
    case: Case
    sides: frozenset[str]
    reads_text: bool


def has_case_workers(session: DbSession, institution_id: int) -> bool:
    """An active, approved case-role account at the institution: someone who answers its
    referrals. Without one, its supervisor answers them, or the sender tracks them."""
    stmt = select(User.id).where(
        User.institution_id == institution_id,
        User.active.is_(True),
        User.role.in_(CASE_ROLES),
        User.approved_at.is_not(None),
    )
    return session.execute(stmt.limit(1)).first() is not None


def answers_for_institution(session: DbSession, caller: case_access.Subject) -> bool:
    """A supervisor moves the referrals her institution receives while it has no case
    workers (a prosecutor's office whose only account is hers); never others'."""
    return (
        caller.active
        and caller.role == "supervisor"
        and not has_case_workers(session, caller.institution_id)
    )


def sides_of(institution_id: int, referral: Referral) -> frozenset[str]:
    sides = set()
    if referral.to_institution_id == institution_id:
        sides.add("receiver")
    if referral.from_institution_id == institution_id:
        sides.add("sender")
        if referral.tracked_by_sender:
            sides.add("receiver")  # the receiver has no users: the sender records for it
    return frozenset(sides)


def referral_for(
    session: DbSession,
    caller: case_access.Subject,
    referral_id: uuid.UUID | None,
    *,
    with_survivor: bool = False,
) -> ReferralAccess:
    """A referral the caller's institution sent or received; 404 for anyone else."""
    standing_in = not case_access.works_on_cases(caller)
    if standing_in and not answers_for_institution(session, caller):
        raise Forbidden("this role does not work on referrals")
    institution_id = caller.institution_id
    mine = (
        Referral.to_institution_id == institution_id
        if standing_in
        else or_(
            Referral.from_institution_id == institution_id,
            Referral.to_institution_id == institution_id,
        )
    )
    stmt = (
        select(Referral)
        .options(joinedload(Referral.from_institution), joinedload(Referral.to_institution))
        .where(Referral.id == referral_id, mine)
    )
    referral = session.execute(stmt).scalar_one_or_none() if referral_id else None
    if referral is None and standing_in:
        raise Forbidden("a supervisor answers only her institution's incoming referrals")
    if referral is None:
        raise NotFound("referral not found")
    case = case_access.case_of_referral(session, referral.case_id, with_survivor)
    if case.purged_at is not None:
        raise NotFound("referral not found")  # nothing of a purged record opens
    is_sender = referral.from_institution_id == institution_id
    reads = referral_text_visible(
        is_sender=is_sender,
        sender_is_party=is_sender and case_access.has_live_party(session, case.id, institution_id),
        is_receiver=referral.to_institution_id == institution_id,
        status=referral.status,
        consent_in_force=case.consent_network,
        mandatory_report=referral.mandatory_report,
        receiver_excluded=case_access.is_excluded(session, case.id, referral.to_institution_id),
    )
    return ReferralAccess(referral, case, sides_of(institution_id, referral), reads)


def lock_for_move(session: DbSession, found: ReferralAccess) -> None:
    """Lock the referral row, then its case's, before a move changes anything.

    Every change of a referral takes its locks in this order (referral, case, party
    rows), as consent changes take case then parties: two changes racing each other
    wait in line instead of deadlocking. The move was decided on the referral as it was
    read; if another move won the race meanwhile, this one is a Conflict (409).
    """
    stmt = (
        select(Referral.version)
        .where(Referral.id == found.referral.id)
        .with_for_update(key_share=True)
    )
    if session.execute(stmt).scalar_one() != found.referral.version:
        raise Conflict("the referral changed meanwhile; reload it")
    case_access.lock_case(session, found.case.id)


def referrals_of_case(session: DbSession, case_id: uuid.UUID) -> list[Referral]:
    """A case's referrals with their events, for a record `case_for` already opened."""
    stmt = (
        select(Referral)
        .options(
            joinedload(Referral.from_institution),
            joinedload(Referral.to_institution),
            selectinload(Referral.events),
        )
        .where(Referral.case_id == case_id)
        .order_by(Referral.created_at)
    )
    return list(session.execute(stmt).scalars())
