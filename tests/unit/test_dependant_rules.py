"""Her children's rules (app/cases/policy.py) and the 72-hour window
(app/cases/rape_window.py), alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.cases import policy, rape_window

DAY = date(2026, 11, 10)
# 00:00 in El Salvador (UTC-6, no summer time) is 06:00 UTC.
START = datetime(2026, 11, 10, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("view", "role", "shown"),
    [
        ("full", "pnc_agent", "all"),
        ("full", "court_staff", "all"),
        ("full", "prosecutor_staff", "all"),
        ("full", "shelter_staff", "with_her"),
        ("break_glass", "supervisor", "all"),
        ("own_parts", "pnc_agent", None),
        ("metadata", "supervisor", None),
    ],
)
def test_children_go_with_the_facts_and_a_shelter_learns_who_comes_with_her(view, role, shown):
    assert policy.dependants_view(view, role) == shown


@pytest.mark.parametrize(
    ("minor", "witnessed", "suffered", "needs"),
    [
        (True, "yes", "no", True),
        (True, "no", "yes", True),
        (True, "unknown", "unknown", False),
        (False, "yes", "yes", False),
    ],
)
def test_a_child_needs_protection_when_a_minor_exposed_to_violence(
    minor, witnessed, suffered, needs
):
    assert policy.dependant_needs_protection(minor, witnessed, suffered) is needs


@pytest.mark.parametrize(
    ("kind", "service", "exposed", "without_consent"),
    [
        ("legal_aid", "child_protection", True, True),
        ("pnc_family_unit", "police_complaint", True, True),
        ("prosecutor", "prosecution", True, True),
        ("womens_office", "psychological", True, False),
        ("legal_aid", "child_protection", False, False),
    ],
)
def test_only_a_protection_referral_of_an_exposed_child_skips_consent(
    kind, service, exposed, without_consent
):
    assert policy.may_refer_dependant_without_consent(kind, service, exposed) is without_consent


def test_the_window_counts_from_the_start_of_the_day_in_el_salvador():
    window = rape_window.window_from(DAY)
    assert window.pep_until == START + timedelta(hours=72)
    assert window.ec_until == START + timedelta(hours=120)


def test_a_rape_reported_in_time_has_a_window_until_120_hours():
    reported = START + timedelta(hours=10)
    inside = rape_window.open_window("rape", DAY, reported, False, START + timedelta(hours=119))
    assert inside is not None
    assert inside.as_dict(START + timedelta(hours=80))["pep_open"] is False
    assert inside.as_dict(START + timedelta(hours=70))["pep_hours_left"] == 2
    assert (
        rape_window.open_window("rape", DAY, reported, False, START + timedelta(hours=120)) is None
    )


@pytest.mark.parametrize(
    ("kind", "voided", "reported_after"),
    [("sexual_assault", False, 1), ("rape", True, 1), ("rape", False, 121)],
)
def test_no_window_for_another_type_a_voided_incident_or_a_late_report(
    kind, voided, reported_after
):
    reported = START + timedelta(hours=reported_after)
    assert rape_window.open_window(kind, DAY, reported, voided, reported) is None
