"""A year and its months: no two answers give a hidden cell back (issue 14, item 7).

As in test_differencing.py, the attacker combines the visible numbers of two answers
linearly. Here the answers are a year's tables (by district, by kind, both, by month, each
district's months) and its months' (March and April, which have incidents, and May, which
has none). The nine other months without incidents are one atom block, "rest": no answer
shows one of them alone but the year by month, which shows all nine, so the attacker
learns their sum and nothing finer. With two answers, "the year less April" is March plus
the rest, which the attacker does not know; a third answer would be needed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from app.reports.cube import PeriodCube, month_end
from app.reports.suppression import TOTAL
from tests.unit.test_differencing import _add, _reduce, largest, statuses

DISTRICTS = ("d1", "d2", "d3")
KINDS = ("k1", "k2")
DATA_MONTHS = ("2026-03", "2026-04")
EMPTY_MONTH = "2026-05"  # published, all zeros
REST = "rest"  # the other nine months, all zeros
BLOCKS = (*DATA_MONTHS, EMPTY_MONTH, REST)
YEAR = (date(2026, 1, 1), date(2026, 12, 31))
Atom = tuple[str, str, str]  # (month block, district, kind)
ATOMS: list[Atom] = list(itertools.product(BLOCKS, DISTRICTS, KINDS))
Meaning = tuple[frozenset[str], tuple[tuple[str, str], ...]]
Answer = list[tuple[Meaning, int | str]]


def block(month: str) -> str:
    return month if month in (*DATA_MONTHS, EMPTY_MONTH) else REST


def fetch_from(data: dict[tuple[str, str, str], int]) -> Callable:
    def fetch_one(start: date, end: date, by: tuple[str, ...]) -> dict:
        counts: dict[tuple[str, ...], int] = {}
        for (month, district, kind), n in data.items():
            if n and start.isoformat()[:7] <= month <= end.isoformat()[:7]:
                values = {"month": month, "district": district, "kind": kind}
                group = tuple(values[key] for key in by)
                counts[group] = counts.get(group, 0) + n
        return counts

    def fetch(start: date, end: date, bys: list[tuple[str, ...]]) -> dict:
        return {by: fetch_one(start, end, by) for by in bys}

    return fetch


def _meaning(blocks: frozenset[str], keys: tuple[str, ...], entry: tuple[str, ...]) -> Meaning:
    fixed = {key: value for key, value in zip(keys, entry, strict=False) if value != TOTAL}
    if "month" in fixed:
        blocks = blocks & {block(fixed.pop("month"))}
    return blocks, tuple(sorted(fixed.items()))


def _answer(blocks: frozenset[str], keys: tuple[str, ...], pattern: dict) -> Answer:
    return [(_meaning(blocks, keys, entry), shown) for entry, shown in pattern.items()]


def _tables(cube: PeriodCube, blocks: frozenset[str]) -> list[Answer]:
    answers = [_answer(blocks, (key,), cube.one_way(key)) for key in ("district", "kind")]
    answers.append(_answer(blocks, ("district", "kind"), cube.two_way("district", "kind")))
    for place in DISTRICTS:
        sliced = cube.place_slice(place, "kind", list(KINDS))
        answers.append(
            [
                ((blocks, (("district", place), *_meaning(blocks, ("kind",), e)[1])), shown)
                for e, shown in sliced.items()
            ]
        )
    return answers


def every_answer(data: dict[tuple[str, str, str], int]) -> list[Answer]:
    fetch = fetch_from(data)
    answers: list[Answer] = []
    for month in (*DATA_MONTHS, EMPTY_MONTH):
        first = date.fromisoformat(f"{month}-01")
        answers += _tables(PeriodCube(fetch, first, month_end(first)), frozenset({month}))
    year, blocks = PeriodCube(fetch, *YEAR), frozenset(BLOCKS)
    answers += _tables(year, blocks)
    answers.append(_answer(blocks, ("month",), year.one_way("month")))
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    for place in DISTRICTS:
        sliced = year.place_slice(place, "month", months)
        answers.append(
            [
                ((_meaning(blocks, ("month",), e)[0], (("district", place),)), shown)
                for e, shown in sliced.items()
            ]
        )
    return [[((m, tuple(sorted(f))), shown) for (m, f), shown in a] for a in answers]


def vector(meaning: Meaning) -> list[int]:
    blocks, fixed = meaning
    names = ("month", "district", "kind")
    return [
        int(atom[0] in blocks and all(atom[names.index(k)] == v for k, v in fixed))
        for atom in ATOMS
    ]


def leaks(data: dict[tuple[str, str, str], int]) -> list[Meaning]:
    answers = every_answer(data)
    found = [meaning for meaning, shown in statuses(answers).items() if len(shown) > 1]
    hidden = {m for a in answers for m, shown in a if isinstance(shown, str)}
    for first, second in itertools.combinations_with_replacement(largest(answers), 2):
        basis: dict[int, list[int]] = {}
        for meaning, shown in first + second:
            if not isinstance(shown, str):
                _add(basis, vector(meaning))
        found += [m for m in sorted(hidden) if not any(_reduce(basis, vector(m)))]
    return found


CELLS = list(itertools.product(DATA_MONTHS, DISTRICTS, KINDS))
counts_of_cells = st.lists(
    st.sampled_from([0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 20]),
    min_size=len(CELLS),
    max_size=len(CELLS),
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(counts_of_cells)
def test_no_two_answers_of_a_year_and_its_months_give_a_hidden_cell_back(counts):
    assert leaks(dict(zip(CELLS, counts, strict=True))) == []


def test_a_year_hides_a_districts_total_that_its_months_would_give_back():
    # d1: 9 in March, 2 in April. Its year total, 11, beside March's 9 and the year by
    # month would give April's hidden 2; so it is hidden, and another district's with it.
    data = dict.fromkeys(CELLS, 0)
    data.update({("2026-03", "d1", "k1"): 9, ("2026-04", "d1", "k1"): 2})
    data.update({("2026-03", "d2", "k1"): 9, ("2026-04", "d2", "k1"): 9})
    data.update({("2026-03", "d3", "k2"): 9, ("2026-04", "d3", "k2"): 9})
    year = PeriodCube(fetch_from(data), *YEAR)
    assert year.one_way("district")[("d1", TOTAL)] == "*"
    assert sum(isinstance(v, str) for v in year.one_way("district").values()) >= 2
    assert leaks(data) == []
