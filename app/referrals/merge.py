"""Referrals follow a merge of two records of one woman: they move to the record that
stays, sealed again under its key, and back on a revert. Cases never import referrals,
so the merge (`app.cases.merge`) takes this package's mover as an argument; the faces
call the two functions below, which pass it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.auth.caller import Caller
from app.cases import merge
from app.core.db import DbSession
from app.crypto.keyring import KeyRing
from app.referrals.models import Referral, ReferralEvent


def move_referrals(session: DbSession, relocation: merge.Relocation) -> dict[str, list[str]]:
    """The referrals of the source record and the notes of their events. The receivers'
    party rows keep their referral: the merge joins them to the record that stays."""
    moved = merge.move_part(session, relocation, "referrals", Referral)
    if moved:
        ids = [uuid.UUID(value) for value in moved]
        events = select(ReferralEvent).where(ReferralEvent.referral_id.in_(ids))
        for event in session.execute(events).scalars():
            # An event's note is sealed with its referral's id and its action.
            name = f"note:{event.action}"
            event.note_enc = relocation.reseal(
                "referral_events", event.referral_id, name, event.note_enc
            )
    return {"referrals": moved}


def review_merge(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    merge_id: uuid.UUID | None,
    approve: bool,
    attachments_dir: Path,
) -> dict[str, Any]:
    return merge.review_merge(
        session, ring, caller, merge_id, approve, attachments_dir, movers=(move_referrals,)
    )


def revert_merge(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    merge_id: uuid.UUID | None,
    attachments_dir: Path,
) -> dict[str, Any]:
    return merge.revert_merge(
        session, ring, caller, merge_id, attachments_dir, movers=(move_referrals,)
    )
