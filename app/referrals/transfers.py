"""Transfers of the lead institution: the one that coordinates her care hands it over.

The lead (a case worker of it, with the whole record) asks another institution — one of
the case's parties, or any institution that works on cases, in another department too
when she moves — with a reason code and a note sealed under the case key. The target's
case workers (its supervisor while it has none) accept or decline; the lead may cancel
while it waits. Accepting moves `cases.lead_institution_id`; the case keeps its number.
Who reads what afterwards is `referrals.policy` (TRANSFER_MOVES, AFTER_ACCEPT). Each step
is audited in the transaction that makes it, and both sides are told.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from app.audit.service import audit
from app.auth.caller import Caller
from app.auth.throttle_store import charge_write
from app.cases import access as case_access
from app.cases import policy as case_policy
from app.cases.models import Case
from app.core.db import DbSession
from app.core.errors import Conflict, Forbidden, InvalidInput
from app.core.i18n import N_
from app.core.ids import is_db_id
from app.core.time import utcnow
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for
from app.directory.models import Institution
from app.notifications.service import notify_institution
from app.referrals import policy
from app.referrals.models import CaseTransfer
from app.referrals.service import survivor_is_minor
from app.referrals.transfer_access import TransferAccess, pending_transfer, transfer_for
from app.referrals.transfer_present import present_for, present_transfer

DECLINE_REASON_REQUIRED = N_("Indique por qué no acepta la coordinación del caso.")
NO_CONSENT = N_(
    "La sobreviviente no ha dado (o retiró) su consentimiento para compartir su expediente "
    "con la red: solo puede traspasar la coordinación a una institución que ya participa."
)


@dataclass(frozen=True)
class TransferMove:
    action: str
    reason: str | None = None
    expected_version: int | None = None


def _refused(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, {field: [gettext(message)]})


# ---- asking --------------------------------------------------------------------------


def request_transfer(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    data: dict[str, Any],
) -> dict[str, Any]:
    """The lead asks another institution to take over the coordination of her case."""
    charge_write(caller.id, "transfer")
    found = case_access.case_for(session, caller, case_id, need=case_policy.WHOLE)
    case = found.case
    is_lead = case.lead_institution_id == caller.institution_id
    if not policy.may_request_transfer(found.view, is_lead):
        raise Forbidden("only the lead institution hands the lead over")
    target = _target(session, case, data["to_institution"])
    cipher = cipher_for(ring, case.data_key)
    is_party = case_access.has_live_party(session, case.id, target.id)
    mandatory = _mandatory_report(cipher, case, target, is_party)
    case_access.lock_case(session, case.id)  # one pending transfer: askers wait in line
    if pending_transfer(session, case.id) is not None:
        raise Conflict(gettext("Este expediente ya tiene un traspaso pendiente."))
    if policy.transfer_needs_consent(is_party, mandatory) and not case.consent_network:
        raise _refused("to_institution", NO_CONSENT)
    transfer = _new_transfer(caller, case, target, data, (is_party, mandatory))
    transfer.note_enc = cipher.seal("case_transfers", transfer.id, "note", _text(data.get("note")))
    session.add(transfer)
    session.flush()
    notify_institution(
        session, target.id, "transfer_requested", case_id=case.id, reference=case.number
    )
    _audit(session, ring, caller, "case_transfer", transfer, f"to={target.code};{transfer.reason}")
    return present_transfer(transfer, case.number, cipher)


def _target(session: DbSession, case: Case, institution_id: Any) -> Institution:
    """An active institution that works on cases, not the lead, not one she excluded."""
    target = session.get(Institution, institution_id) if is_db_id(institution_id) else None
    if target is None or not policy.may_be_transfer_target(
        target.kind, target.active, target.id == case.lead_institution_id
    ):
        raise _refused("to_institution", N_("Elija otra institución de la red que atienda casos."))
    if case_access.is_excluded(session, case.id, target.id):
        raise _refused(
            "to_institution",
            N_("La sobreviviente pidió que esta institución no vea su expediente."),
        )
    return target


def _mandatory_report(cipher: FieldCipher, case: Case, target: Institution, is_party: bool) -> bool:
    """Without her consent, a minor's case still goes to the police, the prosecutor or
    child protection (the mandatory report); only a new party needs to ask."""
    if is_party or case.consent_network:
        return False
    return case_policy.may_refer_without_consent(target.kind, survivor_is_minor(cipher, case))


def _new_transfer(
    caller: Caller,
    case: Case,
    target: Institution,
    data: dict[str, Any],
    party_and_mandatory: tuple[bool, bool],
) -> CaseTransfer:
    is_party, mandatory = party_and_mandatory
    return CaseTransfer(
        id=uuid.uuid4(),
        case_id=case.id,
        from_institution_id=caller.institution_id,
        to_institution_id=target.id,
        reason=data["reason"],
        status=policy.REQUESTED,
        target_was_party=is_party,
        mandatory_report=mandatory,
        requested_by_user_id=caller.id,
        requested_at=utcnow(),
    )


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


# ---- answering -----------------------------------------------------------------------


def move_transfer(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    transfer_id: uuid.UUID | None,
    move: TransferMove,
) -> dict[str, Any]:
    """Accept or decline (the target), cancel (the lead); checked against TRANSFER_MOVES."""
    found = transfer_for(session, caller, transfer_id)
    target, reason = _checked_move(found, move)
    _lock_for_move(session, found)
    cipher = cipher_for(ring, found.case.data_key)
    _apply(session, caller, found, (move.action, target), cipher, reason)
    _tell_the_other_side(session, found, move.action)
    _audit(session, ring, caller, "transfer_transition", found.transfer, f"{move.action}->{target}")
    return present_for(session, caller, found, cipher)


def _checked_move(found: TransferAccess, move: TransferMove) -> tuple[str, str | None]:
    """The status the move leads to and its reason, or why it may not be made."""
    transfer = found.transfer
    if move.action not in policy.TRANSFER_MOVES:
        actions = ", ".join(policy.TRANSFER_MOVES)
        raise InvalidInput(
            "unknown action", {"action": [gettext("Una de: %(actions)s.", actions=actions)]}
        )
    side, source, target = policy.TRANSFER_MOVES[move.action]
    if side not in found.sides:
        raise Forbidden(f"only the {side} may {move.action} this transfer")
    if move.expected_version is not None and move.expected_version != transfer.version:
        raise Conflict(gettext("El traspaso cambió mientras lo leía: recargue la página."))
    if transfer.status != source:
        raise Conflict(f"cannot {move.action} a transfer that is {transfer.status}")
    reason = _text(move.reason)
    if move.action == "decline" and not reason:
        raise _refused("reason", DECLINE_REASON_REQUIRED)
    return target, reason


def _apply(
    session: DbSession,
    caller: Caller,
    found: TransferAccess,
    move: tuple[str, str],
    cipher: FieldCipher,
    reason: str | None,
) -> None:
    """The move (action, target status) on the row, and on the case when accepted."""
    action, target = move
    transfer = found.transfer
    if action == "accept":
        _hand_over(session, caller, found)
    if action == "decline":
        transfer.decline_reason_enc = cipher.seal(
            "case_transfers", transfer.id, "decline_reason", reason
        )
    transfer.status, transfer.answered_at = target, utcnow()
    transfer.answered_by_user_id = caller.id
    found.case.updated_at = utcnow()
    session.flush()


def _lock_for_move(session: DbSession, found: TransferAccess) -> None:
    """The transfer row, then its case's (the order every change of both takes): a move
    decided on a transfer another move changed meanwhile is a Conflict (409)."""
    stmt = (
        select(CaseTransfer.version)
        .where(CaseTransfer.id == found.transfer.id)
        .with_for_update(key_share=True)
    )
    if session.execute(stmt).scalar_one() != found.transfer.version:
        raise Conflict(gettext("El traspaso cambió mientras lo leía: recargue la página."))
    case_access.lock_case(session, found.case.id)


def _hand_over(session: DbSession, caller: Caller, found: TransferAccess) -> None:
    """The lead moves; a target that is no party becomes one as a referral's receiver
    does on accepting; the former lead keeps what it had (`policy.AFTER_ACCEPT`)."""
    transfer, case = found.transfer, found.case
    if not case_policy.allows_writes(case.status):
        raise Conflict(gettext("El caso está cerrado: reábralo para añadir información."))
    if case.merged_into_id is not None:
        raise case_access.CaseMerged()
    if case.lead_institution_id != transfer.from_institution_id:
        raise Conflict(gettext("El traspaso cambió mientras lo leía: recargue la página."))
    receiver = transfer.to_institution_id
    is_party = case_access.has_live_party(session, case.id, receiver)
    excluded = case_access.is_excluded(session, case.id, receiver)
    if excluded or (
        policy.transfer_needs_consent(is_party, transfer.mandatory_report)
        and not case.consent_network
    ):
        raise Conflict(gettext(NO_CONSENT))
    granted = policy.new_lead_access(case.consent_network, transfer.mandatory_report, excluded)
    case_access.add_party(session, case, receiver, policy.NEW_PARTY_REASON, granted, caller.id)
    case.lead_institution_id = receiver


def _tell_the_other_side(session: DbSession, found: TransferAccess, action: str) -> None:
    transfer, case = found.transfer, found.case
    if action == "cancel":
        told, kind = [transfer.to_institution_id], "transfer_cancelled"
    else:
        told, kind = [transfer.from_institution_id, transfer.to_institution_id], "transfer_answered"
    for institution_id in told:
        notify_institution(session, institution_id, kind, case_id=case.id, reference=case.number)


def _audit(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    action: str,
    transfer: CaseTransfer,
    detail: str,
) -> None:
    audit(
        session,
        ring.audit_key,
        caller,
        action,
        object_type="case_transfer",
        object_id=transfer.id,
        case_id=transfer.case_id,
        detail=detail,
    )
