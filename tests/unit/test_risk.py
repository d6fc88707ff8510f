"""The risk assessment's levels (DOMAIN.md), alone: app/cases/risk.py."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.cases.risk import (
    QUESTION_KEYS,
    REASONS,
    assess,
    incident_reasons,
    lowers_from_high,
    missing_answers,
    reassessment_due,
)


def answers(yes: int, **named: bool | None) -> dict[str, bool | None]:
    given: dict[str, bool | None] = {key: int(key) <= yes for key in QUESTION_KEYS}
    for key in ("13", "14", "15"):  # the questions that make it high by themselves
        given[key] = False
    given.update({key.removeprefix("q"): value for key, value in named.items()})
    return given


@pytest.mark.parametrize(
    ("yes", "level"), [(0, "standard"), (9, "standard"), (10, "medium"), (12, "medium")]
)
def test_levels_follow_the_yes_count(yes, level):
    assert assess(answers(yes)).level == level


def test_fourteen_yes_is_high():
    plain = [key for key in QUESTION_KEYS if key not in ("13", "14", "15")]
    result = assess(dict.fromkeys(plain[:14], True))
    assert (result.score, result.level, result.reasons) == (14, "high", ("score_high",))
    assert assess(dict.fromkeys(plain[:13], True)).level == "medium"


@pytest.mark.parametrize("question", ["q14", "q15"])
def test_a_threat_to_kill_or_strangulation_alone_is_high(question):
    assert assess(answers(0, **{question: True})).level == "high"


@pytest.mark.parametrize("flag", ["feminicidal", "firearm", "judgement_high"])
def test_feminicidal_violence_a_firearm_or_judgement_is_high(flag):
    result = assess(answers(2), **{flag: True})
    assert result.level == "high" and result.reasons


def test_unknown_answers_count_as_no():
    none = {key: None for key in QUESTION_KEYS}
    assert assess(none).score == 0 and assess(none).level == "standard"


@pytest.mark.parametrize(("yes", "reason"), [(3, "score_standard"), (11, "score_medium")])
def test_a_level_below_high_says_the_score_made_it(yes, reason):
    assert assess(answers(yes)).reasons == (reason,)


def test_every_reason_for_a_level_has_a_spanish_label():
    given = [
        assess(answers(0, q15=True)),
        assess(answers(0, q14=True)),
        assess(answers(0), feminicidal=True, firearm=True, judgement_high=True),
        assess(answers(0), strangulation=True),
        assess(answers(9)),
        assess(answers(12)),
        assess(dict.fromkeys(QUESTION_KEYS, True)),
    ]
    codes = {code for result in given for code in result.reasons}
    assert codes == set(REASONS)


def test_an_unanswered_question_is_missing_and_no_sabe_is_an_answer():
    given: dict[str, bool | None] = {key: None for key in QUESTION_KEYS}
    assert missing_answers(given) == []
    del given["7"], given["24"]
    assert missing_answers(given) == ["7", "24"]


def test_strangulation_feminicide_or_a_firearm_on_an_incident_are_reasons_at_once():
    assert incident_reasons(["physical"], None, False) == []
    assert incident_reasons(["physical"], "knife", False) == []
    assert incident_reasons(["feminicidal"], "firearm", True) == [
        "strangulation",
        "feminicidal",
        "firearm",
    ]


def test_only_a_drop_from_high_needs_a_reason():
    assert lowers_from_high("high", "medium") and lowers_from_high("high", "standard")
    assert not lowers_from_high("high", "high")
    assert not lowers_from_high("medium", "standard") and not lowers_from_high(None, "standard")


def test_a_reassessment_is_due_on_an_open_high_case_after_thirty_days():
    today = date(2026, 11, 30)
    assert not reassessment_due("open", "high", today - timedelta(days=30), today)
    assert reassessment_due("open", "high", today - timedelta(days=31), today)
    assert reassessment_due("follow_up", "high", None, today)  # made high by an incident
    assert not reassessment_due("closed", "high", today - timedelta(days=90), today)
    assert not reassessment_due("open", "medium", today - timedelta(days=90), today)
