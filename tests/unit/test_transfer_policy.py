"""The rules of the transfers of the lead institution (app/referrals/policy.py) and of
who reads the lead (app/cases/policy.py), written out literally."""

from __future__ import annotations

import pytest

from app.cases.policy import sees_lead
from app.referrals import policy


def test_the_reasons_and_the_moves():
    assert policy.TRANSFER_REASONS == (
        "survivor_moved",
        "better_placed",
        "institution_request",
        "other",
    )
    assert policy.TRANSFER_MOVES == {
        "accept": ("receiver", "requested", "accepted"),
        "decline": ("receiver", "requested", "declined"),
        "cancel": ("sender", "requested", "cancelled"),
    }


@pytest.mark.parametrize(
    ("view", "is_lead", "allowed"),
    [
        ("full", True, True),
        ("full", False, False),
        ("own_parts", True, False),
        ("metadata", True, False),
        ("break_glass", True, False),
    ],
)
def test_only_the_lead_with_the_whole_record_asks(view, is_lead, allowed):
    assert policy.may_request_transfer(view, is_lead) is allowed


@pytest.mark.parametrize(
    ("kind", "active", "is_lead", "allowed"),
    [
        ("womens_office", True, False, True),
        ("prosecutor", True, False, True),
        ("shelter", True, False, True),
        ("forensic", True, False, True),
        ("coordination", True, False, False),
        ("system", True, False, False),
        ("womens_office", False, False, False),
        ("womens_office", True, True, False),
    ],
)
def test_the_target_works_on_cases_is_active_and_is_not_the_lead(kind, active, is_lead, allowed):
    assert policy.may_be_transfer_target(kind, active, is_lead) is allowed


def test_only_a_new_party_needs_her_consent_unless_a_mandatory_report():
    assert policy.transfer_needs_consent(target_is_party=False, mandatory_report=False)
    assert not policy.transfer_needs_consent(target_is_party=True, mandatory_report=False)
    assert not policy.transfer_needs_consent(target_is_party=False, mandatory_report=True)


def test_after_accepting_the_former_lead_keeps_and_the_new_one_gets_a_receivers_access():
    assert policy.AFTER_ACCEPT == {"former_lead": "keeps_access", "new_lead": "receiver_access"}
    assert policy.former_lead_access("full") == "full"
    assert policy.former_lead_access("own_parts") == "own_parts"
    assert policy.new_lead_access(True, False, False) == "full"
    assert policy.new_lead_access(False, True, False) == "full"
    assert policy.new_lead_access(False, False, False) == "own_parts"
    assert policy.new_lead_access(True, False, True) == "own_parts"


@pytest.mark.parametrize(
    ("sender", "sender_party", "receiver", "status", "receiver_full", "reads"),
    [
        (True, True, False, "requested", False, True),
        (True, False, False, "requested", False, False),
        (False, False, True, "requested", False, False),
        (False, False, True, "declined", False, False),
        (False, False, True, "accepted", False, False),
        (False, False, True, "accepted", True, True),
        (False, False, False, "accepted", True, False),
    ],
)
def test_the_note_is_read_by_the_lead_and_by_the_target_only_once_it_leads_with_all(
    sender, sender_party, receiver, status, receiver_full, reads
):
    visible = policy.transfer_note_visible(
        is_sender=sender,
        sender_is_party=sender_party,
        is_receiver=receiver,
        status=status,
        receiver_full=receiver_full,
    )
    assert visible is reads


@pytest.mark.parametrize(
    ("view", "viewer", "lead", "sees"),
    [
        ("full", 1, 2, True),
        ("break_glass", 1, 2, True),
        ("metadata", 1, 2, True),
        ("own_parts", 1, 2, False),
        ("own_parts", 2, 2, True),
    ],
)
def test_who_reads_the_lead(view, viewer, lead, sees):
    assert sees_lead(view, viewer, lead) is sees
