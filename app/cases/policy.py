"""The rules of her record, as pure functions (CONTRACT.md §5).

Which view of a case a caller gets, what each view may show and do, when a join or a
referral gets the whole record, and who may change her consent. `access.py` asks these
with what it read from the database; templates ask `actions_for`; nothing else decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FULL = "full"
OWN_PARTS = "own_parts"
METADATA = "metadata"
BREAK_GLASS = "break_glass"

CONSENT_KEYS = ("share_with_network", "statistics", "police")
# A survivor under 18: these receive a mandatory report without waiting on consent.
MANDATORY_REPORT_KINDS = frozenset({"pnc_family_unit", "prosecutor", "child_protection"})

# What a caller may need to do with a case, from reading to changing the whole record.
READ, ADD, WHOLE = "read", "add", "whole"


def party_view(party_access: str | None, excluded: bool) -> str | None:
    """A case role's view from her institution's live party rows: None is no access."""
    if party_access is None:
        return None
    return OWN_PARTS if excluded else party_access


def supervisor_view(grant_running: bool) -> str:
    return BREAK_GLASS if grant_running else METADATA


def view_allows(view: str, need: str) -> bool:
    """Break-glass and metadata only read; own_parts adds its own parts; full does all."""
    if need == READ:
        return True
    if need == ADD:
        return view in (FULL, OWN_PARTS)
    return view == FULL


def join_access(recorded_share: bool, share_now: bool, excluded: bool) -> str:
    """A matched intake sees her whole record only with her recorded consent and her
    consent given now, at this desk; an excluded institution never does."""
    return FULL if recorded_share and share_now and not excluded else OWN_PARTS


def receiver_access(consent_in_force: bool, mandatory_report: bool, excluded: bool) -> str:
    return FULL if (consent_in_force or mandatory_report) and not excluded else OWN_PARTS


def consent_after(current: Mapping[str, bool], changes: Mapping[str, Any]) -> dict[str, bool]:
    """The keys sent change; absent keys stay as recorded."""
    return {key: bool(changes[key]) if key in changes else current[key] for key in CONSENT_KEYS}


def raises_consent(current: Mapping[str, bool], after: Mapping[str, bool]) -> bool:
    return any(after[key] and not current[key] for key in CONSENT_KEYS)


def may_record_consent(view: str, current: Mapping[str, bool], after: Mapping[str, bool]) -> bool:
    """A revocation is honoured from any party; widening her consent needs the whole
    record, or an own_parts joiner could open the record to itself."""
    return view == FULL or not raises_consent(current, after)


def sees_part(view: str, viewer_institution_id: int, part_institution_id: int) -> bool:
    return view in (FULL, BREAK_GLASS) or part_institution_id == viewer_institution_id


def note_text_visible(confidential: bool, writer_institution_id: int, viewer_id: int) -> bool:
    """Other parties learn that a confidential note exists, never its text."""
    return not confidential or writer_institution_id == viewer_id


def may_refer_without_consent(receiver_kind: str, survivor_is_minor: bool) -> bool:
    return survivor_is_minor and receiver_kind in MANDATORY_REPORT_KINDS


def actions_for(view: str, role: str) -> dict[str, bool]:
    """What the case page offers this caller; the services check the same rules."""
    adds = view_allows(view, ADD)
    whole = view_allows(view, WHOLE)
    return {
        "add": adds,
        "refer": whole,
        "plan": whole,
        "status": whole,
        "consent": adds,
        "complaint": adds and role == "pnc_agent",
        "break_glass": view == METADATA and role == "supervisor",
        "identity": view in (FULL, BREAK_GLASS),
    }
