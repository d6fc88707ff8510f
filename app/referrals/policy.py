"""Who reads what of a referral (CONTRACT §3, §5), as pure functions."""

from __future__ import annotations

from app.auth.models import CASE_ROLES, ROLE_KINDS
from app.cases.policy import FULL, receiver_access

# Referral statuses in which the receiver may read what the sender wrote.
RECEIVER_READS = frozenset({"sent", "accepted", "in_progress", "completed"})


def referral_text_visible(
    *,
    is_sender: bool,
    sender_is_party: bool,
    is_receiver: bool,
    status: str,
    consent_in_force: bool,
    mandatory_report: bool,
    receiver_excluded: bool,
) -> bool:
    """The sender keeps what it wrote while it takes part in the case; the receiver reads
    it while the referral is live and her consent (or a mandatory report) stands.
    Former parties — declined, cancelled, consent revoked — see codes and dates only."""
    if is_sender and sender_is_party:
        return True
    return (
        is_receiver
        and status in RECEIVER_READS
        and (consent_in_force or mandatory_report)
        and not receiver_excluded
    )


# ---- transfers of the lead institution (app/referrals/transfers.py) --------------------
# The lead coordinates her care. It hands the lead to another institution with a reason;
# the target accepts or declines, the lead may cancel while it waits. The case keeps its
# number. What each side reads afterwards is the data below, not code in the service.

TRANSFER_REASONS = ("survivor_moved", "better_placed", "institution_request", "other")
REQUESTED = "requested"
# action -> (side that may take it, status it starts from, status it leads to)
TRANSFER_MOVES: dict[str, tuple[str, str, str]] = {
    "accept": ("receiver", REQUESTED, "accepted"),
    "decline": ("receiver", REQUESTED, "declined"),
    "cancel": ("sender", REQUESTED, "cancelled"),
}
TRANSFER_STATUSES = (REQUESTED, "accepted", "declined", "cancelled")
# Once accepted: the former lead stays a party with the access it had (it served her and
# goes on doing so); the new lead gets what a referral's receiver gets on accepting
# (`cases.policy.receiver_access`), as a party of reason "transfer" when it was none.
AFTER_ACCEPT = {"former_lead": "keeps_access", "new_lead": "receiver_access"}
NEW_PARTY_REASON = "transfer"
# The lead goes to an institution that works on cases: one a case role belongs to.
TRANSFER_KINDS = frozenset(kind for role in sorted(CASE_ROLES) for kind in ROLE_KINDS[role])


def may_request_transfer(view: str, is_lead: bool) -> bool:
    """Only the lead hands the lead over, and only with the whole record."""
    return view == FULL and is_lead


def may_be_transfer_target(kind: str, active: bool, is_lead: bool) -> bool:
    return active and kind in TRANSFER_KINDS and not is_lead


def transfer_needs_consent(target_is_party: bool, mandatory_report: bool) -> bool:
    """A party already shares her record; sharing it with a new institution needs her
    recorded consent, except a minor's mandatory report (CONTRACT §5)."""
    return not target_is_party and not mandatory_report


def new_lead_access(consent_in_force: bool, mandatory_report: bool, excluded: bool) -> str:
    return receiver_access(consent_in_force, mandatory_report, excluded)


def former_lead_access(current_access: str) -> str:
    return current_access


def transfer_note_visible(
    *, is_sender: bool, sender_is_party: bool, is_receiver: bool, status: str, receiver_full: bool
) -> bool:
    """The lead that wrote the note reads it while it takes part in the case; the target
    reads codes and dates only until it accepted, and the note then only with the whole
    record — as a referral's receiver, which sees nothing of the case before accepting."""
    if is_sender and sender_is_party:
        return True
    return is_receiver and status == "accepted" and receiver_full
