"""The moves of a referral: the receiver accepts, declines, starts and completes it (with
the counter-referral), the sender cancels it; "Aceptar y atender" is two moves in one
request. Each move is checked against `MOVES`, recorded as a `ReferralEvent`, and audited
as `referral_transition` in the transaction that makes it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask_babel import gettext

from app.audit.service import audit
from app.auth.caller import Caller
from app.cases import access as case_access
from app.cases import policy as case_policy
from app.cases.models import Case
from app.core.db import DbSession
from app.core.errors import Conflict, Forbidden, InvalidInput
from app.core.i18n import N_
from app.core.time import utcnow
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for
from app.notifications.service import notify_institution
from app.referrals.access import ReferralAccess, lock_for_move, referral_for
from app.referrals.counter import CounterReferral, pack
from app.referrals.models import Referral
from app.referrals.service import LIVE, log_event

# action -> (side that may take it, statuses it starts from, status it leads to)
MOVES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "accept": ("receiver", ("sent",), "accepted"),
    "decline": ("receiver", ("sent",), "declined"),
    "start": ("receiver", ("accepted",), "in_progress"),
    "complete": ("receiver", ("in_progress",), "completed"),
    "cancel": ("sender", LIVE, "cancelled"),
}
# One request, two moves in order, each recorded and audited as itself ("Aceptar y atender").
COMBINED: dict[str, tuple[str, ...]] = {"accept_and_start": ("accept", "start")}
NOTE_REQUIRED = {
    "decline": N_("Indique por qué se rechaza la remisión."),
    "complete": N_("Registre lo que se hizo (la contrarreferencia)."),
}
NEXT_STEP_REQUIRED = N_("Indique el próximo paso para la sobreviviente.")


@dataclass(frozen=True)
class Move:
    action: str
    note: str | None = None
    expected_version: int | None = None
    # The counter-referral, on `complete`: what was done (or `note`), the next step
    # (required once any of the three is given) and whom to contact (optional).
    done: str | None = None
    next_step: str | None = None
    contact: str | None = None

    def counter_referral(self) -> CounterReferral | None:
        """The counter-referral this move carries; None when it lacks what was done."""
        done = (self.done or self.note or "").strip()
        if not done:
            return None
        return CounterReferral(
            done, (self.next_step or "").strip() or None, (self.contact or "").strip() or None
        )

    @property
    def structured(self) -> bool:
        return any(value is not None for value in (self.done, self.next_step, self.contact))


def move_referral(
    session: DbSession, ring: KeyRing, caller: Caller, referral_id: uuid.UUID | None, move: Move
) -> Referral:
    """One move, or the moves of a combined action (`COMBINED`) in one transaction: each
    is checked, recorded and audited as if it came alone."""
    if move.action not in COMBINED:
        return _move_once(session, ring, caller, referral_id, move)
    first, *then = COMBINED[move.action]
    opening = Move(first, None, move.expected_version)
    referral = _move_once(session, ring, caller, referral_id, opening)
    for action in then:
        referral = _move_once(session, ring, caller, referral_id, Move(action))
    return referral


def _move_once(
    session: DbSession, ring: KeyRing, caller: Caller, referral_id: uuid.UUID | None, move: Move
) -> Referral:
    found = referral_for(session, caller, referral_id)
    referral = found.referral
    if move.action not in MOVES:
        actions = ", ".join([*MOVES, *COMBINED])
        raise InvalidInput(
            "unknown action", {"action": [gettext("Una de: %(actions)s.", actions=actions)]}
        )
    side, sources, target = MOVES[move.action]
    if side not in found.sides:
        raise Forbidden(f"only the {side} may {move.action} this referral")
    if move.expected_version is not None and move.expected_version != referral.version:
        raise Conflict("the referral changed since it was read")
    if referral.status not in sources:
        raise Conflict(f"cannot {move.action} a referral that is {referral.status}")
    note = (move.note or "").strip()
    counter = _checked_counter_referral(move) if move.action == "complete" else None
    if move.action in NOTE_REQUIRED and not (note or counter):
        raise InvalidInput("note required", {"note": [gettext(NOTE_REQUIRED[move.action])]})
    lock_for_move(session, found)  # referral, then case: before the first write
    event_note = note or (counter.done if counter else "")
    _apply(session, ring, caller, found, (move.action, target), event_note, counter)
    audit(
        session,
        ring.audit_key,
        caller,
        "referral_transition",
        object_type="referral",
        object_id=referral.id,
        case_id=referral.case_id,
        detail=f"{move.action}->{target}",
    )
    return referral


def _checked_counter_referral(move: Move) -> CounterReferral:
    """What `complete` records: what was done always; the next step too once the
    structured form (done, next step, contact) is used, as the pages always do."""
    counter = move.counter_referral()
    field = "done" if move.structured else "note"
    if counter is None:
        what_was_done = NOTE_REQUIRED["complete"]
        raise InvalidInput("counter-referral required", {field: [gettext(what_was_done)]})
    if move.structured and counter.next_step is None:
        raise InvalidInput("next step required", {"next_step": [gettext(NEXT_STEP_REQUIRED)]})
    return counter


def _apply(
    session: DbSession,
    ring: KeyRing,
    user: Caller,
    found: ReferralAccess,
    move: tuple[str, str],
    note: str,
    counter: CounterReferral | None,
) -> None:
    """The move (action, target status) on the row, its event, the party it makes or
    ends, and the notices; `counter` is the counter-referral of `complete`."""
    action, target = move
    referral, case = found.referral, found.case
    cipher = cipher_for(ring, case.data_key)
    before = referral.status
    referral.status = target
    note_enc = cipher.seal("referral_events", referral.id, f"note:{action}", note or None)
    if action == "decline":
        referral.decline_reason_enc = cipher.seal("referrals", referral.id, "decline_reason", note)
    if counter is not None:
        referral.outcome_enc = cipher.seal("referrals", referral.id, "outcome", pack(counter))
    if target in ("completed", "declined", "cancelled"):
        referral.closed_at = utcnow()
    if action == "accept":
        _receiver_joins(session, case, referral, user)
    if target in ("declined", "cancelled"):
        case_access.end_referral_party(session, referral.id)
    log_event(session, referral, user, action, before, target, note_enc)
    if action in ("accept", "decline", "complete"):
        notify_institution(
            session,
            referral.from_institution_id,
            "referral_answered",
            case_id=case.id,
            reference=case.number,
        )
    case.updated_at = utcnow()
    session.flush()


def _receiver_joins(session: DbSession, case: Case, referral: Referral, user: Caller) -> None:
    """Accepting makes the receiver a party: the whole record while her consent (or a
    mandatory report) stands and she has not excluded it; its own parts otherwise."""
    granted = case_policy.receiver_access(
        case.consent_network,
        # A child's mandatory report does not open her mother's record without her consent.
        referral.mandatory_report and referral.dependant_id is None,
        case_access.is_excluded(session, case.id, referral.to_institution_id),
    )
    case_access.add_party(
        session, case, referral.to_institution_id, "referral", granted, user.id, referral.id
    )
