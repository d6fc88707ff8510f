"""The rules of her record (app/cases/policy.py, app/referrals/policy.py), alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.cases import policy
from app.referrals.policy import referral_text_visible

CURRENT = {"share_with_network": True, "statistics": False, "police": True}


@pytest.mark.parametrize(
    ("recorded", "now", "excluded", "view"),
    [
        (True, True, False, "full"),
        (True, False, False, "own_parts"),
        (False, True, False, "own_parts"),
        (False, False, False, "own_parts"),
        (True, True, True, "own_parts"),
    ],
)
def test_a_join_gets_the_whole_record_only_with_both_consents(recorded, now, excluded, view):
    assert policy.join_access(recorded, now, excluded) == view


def test_an_excluded_institution_never_gets_more_than_its_own_parts():
    assert policy.party_view("full", excluded=True) == "own_parts"
    assert policy.party_view("full", excluded=False) == "full"
    assert policy.party_view(None, excluded=False) is None
    assert policy.receiver_access(True, False, excluded=True) == "own_parts"
    assert policy.receiver_access(False, True, excluded=False) == "full"  # mandatory report
    assert policy.receiver_access(False, False, excluded=False) == "own_parts"


def test_absent_consent_keys_stay_and_sent_keys_change():
    assert policy.consent_after(CURRENT, {}) == CURRENT
    assert policy.consent_after(CURRENT, {"police": False}) == {**CURRENT, "police": False}


def test_only_the_whole_record_may_widen_her_consent_but_anyone_may_narrow_it():
    wider = {**CURRENT, "statistics": True}
    narrower = {**CURRENT, "share_with_network": False}
    assert policy.may_record_consent("full", CURRENT, wider)
    assert not policy.may_record_consent("own_parts", CURRENT, wider)
    assert policy.may_record_consent("own_parts", CURRENT, narrower)


@pytest.mark.parametrize(
    ("view", "need", "allowed"),
    [
        ("full", "whole", True),
        ("own_parts", "add", True),
        ("own_parts", "whole", False),
        ("metadata", "read", True),
        ("metadata", "add", False),
        ("break_glass", "read", True),
        ("break_glass", "add", False),
    ],
)
def test_what_each_view_allows(view, need, allowed):
    assert policy.view_allows(view, need) is allowed


def test_own_parts_sees_only_what_its_institution_wrote():
    assert policy.sees_part("own_parts", 7, 7)
    assert not policy.sees_part("own_parts", 7, 8)
    assert policy.sees_part("full", 7, 8) and policy.sees_part("break_glass", 7, 8)


def test_the_page_offers_what_the_view_allows():
    assert policy.actions_for("own_parts", "pnc_agent") == {
        "add": True,
        "incident": True,
        "download": True,
        "refer": False,
        "plan": False,
        "status": False,
        "consent": True,
        "complaint": True,
        "measure": True,
        "correct": False,
        "correct_own": True,
        "break_glass": False,
        "identity": False,
        "duplicates": False,
        "legal_hold": False,
        "erasure": False,
    }
    assert policy.actions_for("full", "womens_office")["duplicates"] is True
    assert policy.actions_for("metadata", "supervisor")["break_glass"] is True
    assert not any(policy.actions_for("break_glass", "supervisor")[k] for k in ("add", "refer"))


def test_a_closed_case_offers_only_a_new_incident_consent_and_its_status():
    offered = policy.actions_for("full", "pnc_agent", "closed")
    assert {name for name, shown in offered.items() if shown} >= {"incident", "consent", "status"}
    for name in ("add", "refer", "plan", "complaint", "measure", "correct", "correct_own"):
        assert offered[name] is False, name
    assert policy.actions_for("full", "pnc_agent", "follow_up")["add"] is True


def test_supervisors_hold_and_a_whole_party_asks_erasure_of_a_closed_case():
    assert policy.actions_for("metadata", "supervisor")["legal_hold"] is True
    assert policy.actions_for("full", "pnc_agent", "closed")["erasure"] is True
    assert policy.actions_for("full", "pnc_agent", "open")["erasure"] is False
    assert policy.actions_for("own_parts", "pnc_agent", "closed")["erasure"] is False
    assert policy.actions_for("full", "pnc_agent", "closed")["legal_hold"] is False


@pytest.mark.parametrize(
    ("status", "writes"), [("open", True), ("follow_up", True), ("closed", False)]
)
def test_only_a_closed_case_refuses_writes(status, writes):
    assert policy.allows_writes(status) is writes


def test_an_incident_is_corrected_by_a_full_party_or_by_the_institution_that_recorded_it():
    assert policy.may_correct_part("full", 1, 2)
    assert policy.may_correct_part("own_parts", 1, 1)
    assert not policy.may_correct_part("own_parts", 1, 2)
    assert not policy.may_correct_part("metadata", 1, 1)
    assert not policy.may_correct_part("break_glass", 1, 2)


def test_a_minor_is_referred_without_consent_only_to_police_prosecutor_or_child_protection():
    assert policy.may_refer_without_consent("pnc_family_unit", True)
    assert policy.may_refer_without_consent("prosecutor", True)
    assert not policy.may_refer_without_consent("health_unit", True)
    assert not policy.may_refer_without_consent("pnc_family_unit", False)


def _text(**overrides):
    facts = {
        "is_sender": False,
        "sender_is_party": False,
        "is_receiver": True,
        "status": "sent",
        "consent_in_force": True,
        "mandatory_report": False,
        "receiver_excluded": False,
    }
    return referral_text_visible(**{**facts, **overrides})


def test_former_parties_read_no_referral_text():
    assert _text()
    for status in ("declined", "cancelled"):
        assert not _text(status=status)
    assert not _text(consent_in_force=False)
    assert _text(consent_in_force=False, mandatory_report=True)
    assert not _text(receiver_excluded=True)
    assert _text(is_sender=True, sender_is_party=True, is_receiver=False, status="cancelled")
    assert not _text(is_sender=True, sender_is_party=False, is_receiver=False)


# ---- the caseload ----------------------------------------------------------------------


def test_an_active_worker_is_an_active_approved_case_role_of_that_institution():
    assert policy.is_active_worker(True, True, True, 7, 7)
    for args in (
        (False, True, True, 7, 7),  # disabled: she left
        (True, False, True, 7, 7),  # now a supervisor or admin
        (True, True, False, 7, 7),  # waiting for a supervisor's approval
        (True, True, True, 8, 7),  # of another institution
    ):
        assert not policy.is_active_worker(*args), args


def test_the_lead_flag_counts_only_on_an_active_worker():
    assert policy.is_lead(True, True)
    assert not policy.is_lead(True, False)
    assert not policy.is_lead(False, True)


@pytest.mark.parametrize(
    ("active", "lead", "holder_active", "allowed"),
    [
        (True, False, False, True),  # nobody active holds it: she takes it
        (True, False, True, False),  # a colleague holds it: the lead reassigns it
        (True, True, True, True),  # the lead may take any case of her institution
        (False, True, False, False),  # a disabled account takes nothing
    ],
)
def test_a_worker_takes_only_a_case_no_active_worker_holds(active, lead, holder_active, allowed):
    assert policy.may_take(active, lead, holder_active) is allowed


def test_reassigning_and_moving_a_caseload_are_the_leads():
    assert policy.may_reassign(True) and policy.may_move_caseload(True)
    assert not policy.may_reassign(False) and not policy.may_move_caseload(False)


def test_the_case_page_offers_take_and_reassign_by_the_same_rules():
    assert policy.assignment_actions(1, True, False, None, False) == {"take": True, "assign": False}
    assert policy.assignment_actions(1, True, False, 2, True) == {"take": False, "assign": False}
    assert policy.assignment_actions(1, True, False, 2, False) == {"take": True, "assign": False}
    assert policy.assignment_actions(1, True, True, 1, True) == {"take": False, "assign": True}
    assert policy.assignment_actions(1, True, True, 2, True) == {"take": True, "assign": True}


def test_an_open_high_risk_case_is_reassessed_after_thirty_days_or_without_any():
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    window = timedelta(days=30)
    assert policy.needs_reassessment(None, now, window)
    assert policy.needs_reassessment(now - timedelta(days=31), now, window)
    assert not policy.needs_reassessment(now - timedelta(days=29), now, window)


def test_a_high_risk_woman_is_protected_by_a_plan_or_a_measure():
    assert policy.unprotected(False, False)
    assert not policy.unprotected(True, False)
    assert not policy.unprotected(False, True)


# ---- merges (issue 11, item 5) ------------------------------------------------------------


def test_a_party_of_the_absorbed_record_joins_whole_only_with_her_recorded_consent():
    assert policy.merged_party_access(True, "full", False) == "full"
    assert policy.merged_party_access(False, "full", False) == "own_parts"
    assert policy.merged_party_access(True, "own_parts", False) == "own_parts"
    assert policy.merged_party_access(True, "full", True) == "own_parts"


def test_a_merge_keeps_the_higher_risk_level():
    assert policy.higher_risk("standard", "high") == "high"
    assert policy.higher_risk("medium", None) == "medium"
    assert policy.higher_risk(None, None) is None


def test_a_merge_is_reversible_for_its_window_and_an_absorbed_record_only_reads():
    from datetime import UTC, datetime, timedelta

    decided, window = datetime(2026, 11, 1, tzinfo=UTC), timedelta(days=30)
    assert policy.may_revert_merge(decided, decided + window, window)
    assert not policy.may_revert_merge(decided, decided + window + timedelta(seconds=1), window)
    assert policy.merged_allows(policy.READ)
    assert not policy.merged_allows(policy.ADD) and not policy.merged_allows(policy.WHOLE)
