"""The rules of her record (app/cases/policy.py, app/referrals/policy.py), alone."""

from __future__ import annotations

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
        "refer": False,
        "plan": False,
        "status": False,
        "consent": True,
        "complaint": True,
        "break_glass": False,
        "identity": False,
    }
    assert policy.actions_for("metadata", "supervisor")["break_glass"] is True
    assert not any(policy.actions_for("break_glass", "supervisor")[k] for k in ("add", "refer"))


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
