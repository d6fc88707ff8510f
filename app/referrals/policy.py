"""Who reads what of a referral (CONTRACT §3, §5), as pure functions."""

from __future__ import annotations

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
