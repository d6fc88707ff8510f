"""A referral shaped for the side that reads it: decrypted, or codes and dates only."""

from __future__ import annotations

from typing import Any, cast

from app.cases.record_parts import referral_record
from app.core.time import local_today
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for
from app.referrals.access import ReferralAccess

LIVE = ("sent", "accepted", "in_progress")


class _Withheld:
    """Stands in for the case's cipher where the reader may not see the text."""

    def open_text(self, *_: Any) -> None:
        return None


WITHHELD = cast(FieldCipher, _Withheld())


def present_referral(ring: KeyRing, found: ReferralAccess) -> dict[str, Any]:
    referral = found.referral
    cipher = cipher_for(ring, found.case.data_key) if found.reads_text else WITHHELD
    record = referral_record(cipher, referral)
    record.update(
        case_number=found.case.number,
        overdue=referral.status in LIVE and referral.due_on < local_today(),
        text_withheld=not found.reads_text,
    )
    return record
