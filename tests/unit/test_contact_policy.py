"""Who reads her contact rules and her access needs (app/cases/policy.py)."""

from __future__ import annotations

import pytest

from app.cases import policy
from app.cases.contact_data import hides_phone


@pytest.mark.parametrize(
    ("view", "sees"),
    [
        (policy.FULL, True),
        (policy.BREAK_GLASS, True),
        (policy.OWN_PARTS, False),
        (policy.METADATA, False),
        (None, False),  # a former party, or a receiver not yet a party
    ],
)
def test_contact_rules_go_only_where_her_phone_goes(view, sees):
    assert policy.sees_contact(view) is sees


def test_a_live_receiver_reads_only_what_it_needs_to_prepare():
    assert policy.needs_view(None, live_receiver=True) == policy.PREPARATION
    assert policy.needs_view(policy.FULL, live_receiver=True) == policy.ALL_NEEDS


@pytest.mark.parametrize("view", [policy.OWN_PARTS, policy.METADATA, None])
def test_own_parts_metadata_and_former_parties_read_no_needs(view):
    assert policy.needs_view(view, live_receiver=False) is None


def test_an_own_parts_party_reads_no_needs_even_as_a_live_receiver():
    assert policy.needs_view(policy.OWN_PARTS, live_receiver=True) is None


def test_the_phone_hides_when_she_may_not_be_called_or_he_watches_it():
    assert hides_phone({"may_call": False})
    assert hides_phone({"may_call": True, "phone_watched_by_aggressor": "yes"})
    assert not hides_phone({"may_call": True, "phone_watched_by_aggressor": "unknown"})
    assert not hides_phone({"may_call": None})
