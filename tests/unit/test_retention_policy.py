"""The rules of retention (app/retention/policy.py): periods, the minor rule, and when
the law keeps a record her erasure request cannot remove."""

from __future__ import annotations

from datetime import date

from app.retention import policy


def state(**overrides: bool) -> policy.ErasureState:
    values = dict.fromkeys(
        ("held", "purged", "live_referrals", "measures_in_force", "complaint_filed"), False
    )
    return policy.ErasureState(closed=overrides.pop("closed", True), **{**values, **overrides})


def test_an_adult_record_is_kept_the_period_after_closing():
    assert policy.retained_until(date(2026, 3, 1), date(1990, 1, 1), 10) == date(2036, 3, 1)


def test_a_minor_record_is_kept_until_her_18th_birthday_plus_the_period():
    assert policy.retained_until(date(2026, 3, 1), date(2012, 6, 1), 10) == date(2040, 6, 1)
    # 18 already at closing: the closing date counts.
    assert policy.retained_until(date(2026, 3, 1), date(2008, 1, 1), 10) == date(2036, 3, 1)


def test_without_her_birth_date_the_end_of_her_birth_year_counts():
    assert policy.latest_birth_date(2010) == date(2010, 12, 31)
    assert policy.latest_birth_date(None) is None


def test_29_february_falls_back_to_the_28th():
    assert policy.retained_until(date(2024, 2, 29), None, 1) == date(2025, 2, 28)


def test_erasure_may_proceed_only_when_nothing_keeps_the_record():
    assert policy.erasure_obstacles(state()) == []
    assert policy.erasure_obstacles(state(closed=False)) == ["open"]
    assert policy.erasure_obstacles(state(held=True, complaint_filed=True)) == [
        "held",
        "complaint",
    ]
    assert policy.erasure_obstacles(state(live_referrals=True)) == ["referrals"]
    assert policy.erasure_obstacles(state(measures_in_force=True)) == ["measures"]


def test_the_refusal_says_why_and_states_the_rule():
    message = policy.refusal_message(["open", "complaint"])
    assert "el caso sigue abierto; tiene una denuncia presentada" in message
    assert "sin denuncia presentada ante la PNC o la Fiscalía" in message


def test_only_active_supervisors_hold():
    assert policy.may_hold("supervisor", True)
    assert not policy.may_hold("supervisor", False)
    assert not policy.may_hold("admin", True)
