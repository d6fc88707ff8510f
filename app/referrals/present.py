"""Referrals shaped for their reader: decrypted, or codes and dates only; and the
referral part of a case record and its timeline, composed into what `cases` presents."""

from __future__ import annotations

from typing import Any

from app.cases.present import WITHHELD, iso
from app.core.time import local_today
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for
from app.referrals.access import ReferralAccess
from app.referrals.counter import unpack
from app.referrals.models import Referral

LIVE = ("sent", "accepted", "in_progress")


def referral_record(cipher: FieldCipher, referral: Referral) -> dict[str, Any]:
    def opened(field: str, blob: bytes | None) -> str | None:
        return cipher.open_text("referrals", referral.id, field, blob)

    counter = unpack(opened("outcome", referral.outcome_enc))
    return {
        "id": str(referral.id),
        "case_id": str(referral.case_id),
        "status": referral.status,
        "from_institution": referral.from_institution.code,
        "to_institution": referral.to_institution.code,
        "to_institution_id": referral.to_institution_id,
        "from_institution_name": referral.from_institution.name,
        "to_institution_name": referral.to_institution.name,
        "service": referral.service,
        "urgency": referral.urgency,
        "due_on": iso(referral.due_on),
        "consent": referral.consent,
        "mandatory_report": referral.mandatory_report,
        # A referral for a child of hers names only the age group: the child's name is in
        # her record, for the views that read it.
        "for_dependant": (
            {"age_group": referral.dependant.age_group} if referral.dependant is not None else None
        ),
        "tracked_by_sender": referral.tracked_by_sender,
        "reason": opened("reason", referral.reason_enc),
        "decline_reason": opened("decline_reason", referral.decline_reason_enc),
        # What was done, as before the counter-referral had parts; then all its parts.
        "outcome": counter.done if counter else None,
        "counter_referral": counter.as_dict() if counter else None,
        "created_at": iso(referral.created_at),
        "version": referral.version,
    }


def present_referral(ring: KeyRing, found: ReferralAccess) -> dict[str, Any]:
    referral = found.referral
    cipher = cipher_for(ring, found.case.data_key) if found.reads_text else WITHHELD
    record = referral_record(cipher, referral)
    record.update(
        case_number=found.case.number,
        overdue=referral.status in LIVE and referral.due_on < local_today(),
        text_withheld=not found.reads_text,
        sides=sorted(found.sides),
    )
    return record


def referral_timeline(referrals: list[Referral]) -> list[dict[str, Any]]:
    return [
        {
            "at": iso(event.at),
            "kind": f"referral_{event.action}",
            "institution": event.institution.code,
            "detail": referral.service,
        }
        for referral in referrals
        for event in referral.events
    ]


def with_referrals(
    record: dict[str, Any], cipher: FieldCipher, referrals: list[Referral]
) -> dict[str, Any]:
    """The case record with its referrals and their events in the timeline, in order."""
    timeline = [*record.get("timeline", []), *referral_timeline(referrals)]
    return {
        **record,
        "referrals": [referral_record(cipher, referral) for referral in referrals],
        "timeline": sorted(timeline, key=lambda item: item["at"] or ""),
    }
