"""The rules of her record, as pure functions (CONTRACT.md §5).

Which view of a case a caller gets, what each view may show and do, when a join or a
referral gets the whole record, and who may change her consent. `access.py` asks these
with what it read from the database; templates ask `actions_for`; nothing else decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from app.auth.policy import COMPLAINT_ROLES, MEASURE_ROLES
from app.cases.risk import LEVELS as RISK_LEVELS

FULL = "full"
OWN_PARTS = "own_parts"
METADATA = "metadata"
BREAK_GLASS = "break_glass"
# Not a view `case_for` grants: what anyone who may see a purged record gets (its number,
# dates and status; nothing can be decrypted any more).
PURGED = "purged"

CONSENT_KEYS = ("share_with_network", "statistics", "police")
# A survivor under 18: these receive a mandatory report without waiting on consent.
MANDATORY_REPORT_KINDS = frozenset({"pnc_family_unit", "prosecutor", "child_protection"})

# What a caller may need to do with a case, from reading to changing the whole record.
READ, ADD, WHOLE = "read", "add", "whole"


def merged_allows(need: str) -> bool:
    """A record absorbed by a merge is only read (its parties see where it went)."""
    return need == READ


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


CLOSED = "closed"


def allows_writes(case_status: str) -> bool:
    """A closed case is read-only until it is reopened with a reason (DOMAIN.md)."""
    return case_status != CLOSED


def may_correct_part(view: str, viewer_institution_id: int, part_institution_id: int) -> bool:
    """An incident is corrected (or voided) by a party that sees the whole record, or by
    the institution that recorded it."""
    return view == FULL or (view == OWN_PARTS and part_institution_id == viewer_institution_id)


def join_access(recorded_share: bool, share_now: bool, excluded: bool) -> str:
    """A matched intake sees her whole record only with her recorded consent and her
    consent given now, at this desk; an excluded institution never does."""
    return FULL if recorded_share and share_now and not excluded else OWN_PARTS


def merged_party_access(recorded_share: bool, party_access: str, excluded: bool) -> str:
    """A party of the absorbed record joins the one that stays with the whole of it only
    when her consent to share is recorded there, it had the whole absorbed record, and
    she has not excluded it; otherwise with its own parts."""
    whole = recorded_share and party_access == FULL and not excluded
    return FULL if whole else OWN_PARTS


def higher_risk(first: str | None, second: str | None) -> str | None:
    """The merged record keeps the higher level of the two: it never drops from high by
    a merge."""
    known = [level for level in (first, second) if level in RISK_LEVELS]
    return max(known, key=RISK_LEVELS.index) if known else None


def may_revert_merge(decided_at: datetime, now: datetime, window: timedelta) -> bool:
    return now <= decided_at + window


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


def same_incident(existing: tuple[date, Iterable[str]], new: tuple[date, Iterable[str]]) -> bool:
    """(occurred_on, violence types): the same day and a violence type in common is most
    likely the same incident entered twice; it is counted once unless confirmed."""
    return existing[0] == new[0] and not set(existing[1]).isdisjoint(new[1])


def may_refer_without_consent(receiver_kind: str, survivor_is_minor: bool) -> bool:
    return survivor_is_minor and receiver_kind in MANDATORY_REPORT_KINDS


def actions_for(view: str, role: str, case_status: str | None = None) -> dict[str, bool]:
    """What the case page offers this caller; the services check the same rules. On a
    closed case only a new incident (which reopens it), consent and the status remain."""
    writes = case_status is None or allows_writes(case_status)
    adds = view_allows(view, ADD)
    whole = view_allows(view, WHOLE)
    return {
        "add": adds and writes,
        "incident": adds,
        "download": adds,  # a read: a closed case's files open too
        "refer": whole and writes,
        "plan": whole and writes,
        "status": whole,
        "consent": adds,
        "complaint": adds and writes and role in COMPLAINT_ROLES,
        "measure": adds and writes and role in MEASURE_ROLES,
        "correct": whole and writes,
        "correct_own": adds and writes,
        "break_glass": view == METADATA and role == "supervisor",
        "identity": view in (FULL, BREAK_GLASS),
        # Looking for her other records asks by her name: only with the whole record.
        "duplicates": whole,
        # Retention (app/retention): supervisors hold; a party with all of it asks her
        # erasure, once the case is closed (the service checks what else the law keeps).
        "legal_hold": view in (METADATA, BREAK_GLASS) and role == "supervisor",
        "erasure": whole and case_status == CLOSED,
    }


# ---- the caseload: one responsible worker per party institution ------------------------
# A worker takes a case nobody active holds; handing someone else's case (or a whole
# caseload) to another worker is the institution's lead's. Who is "active" here is the
# same as in the work list's SQL (`access.active_worker`).

TAKE, ASSIGN = "take", "assign"
ASSIGNED_FILTERS = ("all", "me", "unassigned")


def is_active_worker(
    active: bool, case_role: bool, approved: bool, institution_id: int, of_institution: int
) -> bool:
    """She can carry cases of `of_institution`: an active, approved case-role account
    there. A disabled or moved-away worker keeps her cases until the lead moves them."""
    return active and case_role and approved and institution_id == of_institution


def is_lead(lead_flag: bool, active_worker: bool) -> bool:
    """The lead flag counts only on an active case-role account, read at each request:
    taking the flag away, the role or the account takes the right away at once."""
    return lead_flag and active_worker


def may_take(caller_active_worker: bool, caller_lead: bool, holder_active: bool) -> bool:
    """A worker takes a case that no active worker holds; a lead may take any."""
    return caller_active_worker and (caller_lead or not holder_active)


def may_reassign(caller_lead: bool) -> bool:
    """Giving a case to someone else, or leaving it without a responsible: the lead."""
    return caller_lead


def may_move_caseload(caller_lead: bool) -> bool:
    return caller_lead


def assignment_actions(
    caller_id: int,
    caller_active_worker: bool,
    caller_lead: bool,
    holder_id: int | None,
    holder_active: bool,
) -> dict[str, bool]:
    """What the case page offers about its responsible worker."""
    return {
        "take": holder_id != caller_id
        and may_take(caller_active_worker, caller_lead, holder_active),
        "assign": may_reassign(caller_lead),
    }


def needs_reassessment(last_assessed_at: datetime | None, now: datetime, window: timedelta) -> bool:
    """An open high-risk case is reassessed when its last assessment is older than the
    window (or it has none: a feminicidal incident set it high without one)."""
    return last_assessed_at is None or last_assessed_at < now - window


def unprotected(has_safety_plan: bool, has_active_measure: bool) -> bool:
    """A high-risk woman with neither a safety plan nor a protection measure in force."""
    return not has_safety_plan and not has_active_measure


# ---- each role's minimum view (DOMAIN.md, "Institutions and roles") --------------------
# What a case role reads of the parts OTHER institutions wrote, when her institution sees
# the whole record; what her own institution wrote she always reads, and her identity and
# the level of risk every party with the whole record reads. Data, not code: a test walks
# every role and part. The front line (police, health, women's offices) coordinates her
# care and reads it all; the justice and shelter roles read what their work needs.
NOTE_PARTS = {
    kind: f"notes:{kind}"
    for kind in ("medical", "forensic", "psychological", "legal", "social", "shelter")
}
PART_KINDS = (
    "incidents",
    *NOTE_PARTS.values(),
    "follow_ups",
    "safety_plan",
    "attachments",
    "complaints",
)
EVERY_PART = frozenset(PART_KINDS)
ROLE_PARTS: dict[str, frozenset[str]] = {
    "pnc_agent": EVERY_PART,
    "health_staff": EVERY_PART,
    "womens_office": EVERY_PART,
    # The prosecution builds the case: the facts, the forensic findings and evidence,
    # the complaint and measures; never the health or psychological notes.
    "prosecutor_staff": frozenset(
        {"incidents", "notes:forensic", "notes:legal", "safety_plan", "attachments", "complaints"}
    ),
    # A court: the facts, the complaint and its measures; never health or psychological
    # notes, nor the files others attached (medical reports among them).
    "court_staff": frozenset({"incidents", "notes:legal", "complaints"}),
    "legal_aid_staff": frozenset(
        {"incidents", "notes:legal", "notes:social", "safety_plan", "complaints"}
    ),
    # A shelter: the safety plan, the contact rules and measures that keep her safe, the
    # follow-ups it shares; not the facts as told, nor the forensic findings.
    "shelter_staff": frozenset(
        {"notes:shelter", "notes:social", "follow_ups", "safety_plan", "complaints"}
    ),
}
# A correction shows its old and new values with the part it corrects.
CORRECTED_PARTS = {"incident": "incidents", "complaint": "complaints", "measure": "complaints"}


def reads_others(role: str, part: str) -> bool:
    """Whether this role reads what other institutions wrote of `part` (the supervisors'
    break-glass reads all of it: the emergency is not a role's daily work)."""
    return part in ROLE_PARTS.get(role, EVERY_PART)


def withheld_parts(role: str) -> list[str]:
    """The parts others wrote that this role never reads, in the record's order."""
    return [part for part in PART_KINDS if not reads_others(role, part)]


# ---- her safe-contact protocol and access needs (app/cases/contact_data.py) ------------

ALL_NEEDS, PREPARATION = "all", "preparation"


def sees_contact(view: str | None) -> bool:
    """Her contact rules go wherever her phone or address goes, and nowhere else: the
    whole record's views (break-glass included, which reads her identity)."""
    return view in (FULL, BREAK_GLASS)


def needs_view(view: str | None, live_receiver: bool) -> str | None:
    """All her access needs with her whole record; a live receiver not yet serving her
    reads what it needs to prepare (language, interpreter, disability adjustments);
    own_parts, metadata and former parties read none."""
    if view in (FULL, BREAK_GLASS):
        return ALL_NEEDS
    # own_parts learns nothing others wrote, even as a receiver (a revoked consent).
    return PREPARATION if live_receiver and view != OWN_PARTS else None


# ---- the aggressor (app/cases/aggressors.py) --------------------------------------------
# He is part of the incident's facts: whoever reads an incident reads the aggressors
# recorded on it, and adds one only to an incident she reads. The repeat signal (a
# count, nothing of the other records) goes to every party and to supervisors.


def sees_incident_facts(view: str, role: str, viewer_id: int, entry_institution_id: int) -> bool:
    if view == BREAK_GLASS:
        return True
    if entry_institution_id == viewer_id:
        return view in (FULL, OWN_PARTS)
    return view == FULL and reads_others(role, "incidents")


def sees_repeat_signal(view: str) -> bool:
    return view in (FULL, OWN_PARTS, BREAK_GLASS, METADATA)


# ---- the lead institution (the one that coordinates her care) -------------------------


def sees_lead(view: str | None, viewer_institution_id: int, lead_institution_id: int) -> bool:
    """Who leads her care says where she is served (a move to another department): the
    views that read the parties read it; own_parts only when it is the lead itself."""
    return view in (FULL, BREAK_GLASS, METADATA) or viewer_institution_id == lead_institution_id


# ---- her children and dependants (app/cases/dependants.py) -----------------------------
# They are part of the facts of her case: a view that reads the incidents others wrote
# reads them. A role that does not (the shelter) learns only what its work needs, that
# children come with her and their age groups; what its own institution recorded it reads.

DEPENDANTS_ALL, DEPENDANTS_WITH_HER = "all", "with_her"
# A child under 18 who witnessed or suffered violence: a child-protection (or police,
# prosecutor) referral for them is a mandatory report (CONTRACT.md §5, as for a minor).
EXPOSED = "yes"


def dependants_view(view: str, role: str) -> str | None:
    if view == BREAK_GLASS or (view == FULL and reads_others(role, "incidents")):
        return DEPENDANTS_ALL
    if view == FULL:
        return DEPENDANTS_WITH_HER
    return None  # own_parts reads only those its institution recorded; metadata none


def dependant_needs_protection(might_be_minor: bool, witnessed: str, suffered: str) -> bool:
    return might_be_minor and EXPOSED in (witnessed, suffered)


def may_refer_dependant_without_consent(receiver_kind: str, service: str, exposed: bool) -> bool:
    """A mandatory report for an exposed child: child protection, the police or the
    prosecutor; any other referral for the child waits on her consent."""
    return exposed and (service == "child_protection" or receiver_kind in MANDATORY_REPORT_KINDS)
