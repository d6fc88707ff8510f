"""Her contact rules and access needs on a referral, as its reader may see them: the
whole of both for a party with her whole record; for a live receiver not yet serving
her, only what it needs to prepare (language, interpreter, disability adjustments)."""

from __future__ import annotations

from typing import Any

from app.cases import access as case_access
from app.cases.present import contact_shown
from app.crypto.envelope import FieldCipher

NOTHING: dict[str, Any] = {"contact_rules": None, "access_needs": None}


def contact_for_reader(
    cipher: FieldCipher,
    behind: case_access.ReferralCase | None,
    reads_text: bool,
    sides: frozenset[str],
) -> dict[str, Any]:
    """`behind`: the caller's view of the case (`case_access.cases_behind_referrals`)."""
    if behind is None:
        return dict(NOTHING)
    live_receiver = reads_text and "receiver" in sides
    return contact_shown(cipher, behind.case.survivor, behind.view, live_receiver)


def shown_parts(shown: dict[str, Any]) -> list[str]:
    """Which of them carry something (for the audit row of what was shown)."""
    rules, needs = shown.get("contact_rules"), shown.get("access_needs")
    marks = (("contact", bool(rules)), ("needs", bool(needs and needs["summary"])))
    return [part for part, there in marks if there]
