"""DOMAIN.md's derived codes (app/cases/vocab.py): age groups, GBVIMS type, context."""

from __future__ import annotations

from datetime import date

import pytest

from app.cases.vocab import age_group, age_on, context_of, gbvims_type


@pytest.mark.parametrize(
    ("age", "group"),
    [
        (0, "0-11"),
        (11, "0-11"),
        (12, "12-17"),
        (17, "12-17"),
        (18, "18-29"),
        (29, "18-29"),
        (30, "30-59"),
        (59, "30-59"),
        (60, "60+"),
        (104, "60+"),
    ],
)
def test_age_groups_have_no_gap_and_no_overlap(age, group):
    assert age_group(age) == group


def test_age_turns_on_the_birthday_not_before():
    born = date(2008, 12, 2)
    assert age_on(born, date(2026, 12, 1)) == 17
    assert age_on(born, date(2026, 12, 2)) == 18


@pytest.mark.parametrize(
    ("types", "penetration", "contact", "marriage", "expected"),
    [
        (["sexual", "physical"], True, False, False, "rape"),
        (["sexual"], False, False, False, "sexual_assault"),
        (["psychological"], False, True, False, "sexual_assault"),
        (["physical", "psychological"], False, False, True, "physical_assault"),
        (["feminicidal"], False, False, False, "physical_assault"),
        (["psychological"], False, False, True, "forced_marriage"),
        (["economic", "symbolic"], False, False, False, "denial_of_resources"),
        (["symbolic"], False, False, False, "psychological_abuse"),
        ([], False, False, False, "other"),
    ],
)
def test_the_gbvims_rule_takes_the_first_that_applies(
    types, penetration, contact, marriage, expected
):
    assert gbvims_type(types, penetration, contact, marriage) == expected


def test_context_child_sexual_abuse_wins_over_the_relationship():
    assert context_of("partner", ["sexual"], 15) == "child_sexual_abuse"
    assert context_of("former_partner", ["physical"], 30) == "intimate_partner"
    assert context_of("family", ["sexual"], 19) == "intrafamily"
    assert context_of("stranger", ["physical"], None) is None
