"""The risk assessment's levels (DOMAIN.md), alone: app/cases/risk.py."""

from __future__ import annotations

import pytest

from app.cases.risk import QUESTION_KEYS, assess


def answers(yes: int, **named: bool | None) -> dict[str, bool | None]:
    given: dict[str, bool | None] = {key: int(key) <= yes for key in QUESTION_KEYS}
    for key in ("13", "14", "15"):  # the questions that make it high by themselves
        given[key] = False
    given.update({key.removeprefix("q"): value for key, value in named.items()})
    return given


@pytest.mark.parametrize(("yes", "level"), [(0, "standard"), (9, "standard"), (10, "medium"),
                                            (12, "medium")])
def test_levels_follow_the_yes_count(yes, level):
    assert assess(answers(yes)).level == level


def test_fourteen_yes_is_high():
    plain = [key for key in QUESTION_KEYS if key not in ("13", "14", "15")]
    result = assess(dict.fromkeys(plain[:14], True))
    assert (result.score, result.level, result.reasons) == (14, "high", ())
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
