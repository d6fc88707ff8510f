"""No two published answers combine to give a hidden cell back (issue 14, item 7).

The attacker knows every visible number of two answers and what each published entry
counts: a set of "atoms" (month × district × kind × age). A hidden entry of any answer is
recovered when its atoms are a linear combination of the two answers' visible entries,
that is when some sum and difference of the visible numbers equals it. This module
attacks the tables of months, which share no incident (test_differencing_years.py adds
a year); the month by month series of the year is checked to show each month alike. The same
attacker, run on tables each protected on their own, or without the rules that make
them agree, does recover cells: the test can fail.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from app.reports import suppression
from app.reports.cube import PeriodCube, month_end, month_series
from app.reports.suppression import TOTAL, Grid, shown_values

DISTRICTS = ("d1", "d2", "d3")
KINDS = ("k1", "k2")
AGES = ("a1", "a2")
MONTHS = ("2026-03", "2026-04")  # the months with incidents; the others are zeros
NAMES = ("month", "district", "kind", "age")
PRIME = 2_147_483_647
Atom = tuple[str, str, str, str]
ATOMS: list[Atom] = list(itertools.product(MONTHS, DISTRICTS, KINDS, AGES))
Data = dict[Atom, int]
# A published entry's meaning: the months it covers and the values it fixes.
Meaning = tuple[frozenset[str], tuple[tuple[str, str], ...]]
Answer = list[tuple[Meaning, int | str]]


def fetch_from(data: Data) -> Callable[[date, date, list[tuple[str, ...]]], dict]:
    def fetch_one(start: date, end: date, by: tuple[str, ...]) -> dict:
        counts: dict[tuple[str, ...], int] = {}
        for atom, n in data.items():
            if n and start.isoformat()[:7] <= atom[0] <= end.isoformat()[:7]:
                group = tuple(atom[NAMES.index(key)] for key in by)
                counts[group] = counts.get(group, 0) + n
        return counts

    def fetch(start: date, end: date, bys: list[tuple[str, ...]]) -> dict:
        return {by: fetch_one(start, end, by) for by in bys}

    return fetch


def _meaning(months: frozenset[str], keys: tuple[str, ...], entry: tuple[str, ...]) -> Meaning:
    fixed = {key: value for key, value in zip(keys, entry, strict=False) if value != TOTAL}
    if "month" in fixed:
        months = months & {fixed.pop("month")}
    return months, tuple(sorted(fixed.items()))


def _answer(months: frozenset[str], keys: tuple[str, ...], pattern: dict) -> Answer:
    return [(_meaning(months, keys, entry), shown) for entry, shown in pattern.items()]


def month_answers(cube_for: Callable, data: Data, month: str) -> list[Answer]:
    """Every table the observatory gives for one month."""
    first = date.fromisoformat(f"{month}-01")
    cube, months = cube_for(fetch_from(data), first, month_end(first)), frozenset({month})
    answers = [_answer(months, (key,), cube.one_way(key)) for key in NAMES]
    for pair in itertools.combinations(NAMES, 2):
        answers.append(_answer(months, pair, cube.two_way(*pair)))
    for place in DISTRICTS:
        for key, values in (("kind", KINDS), ("age", AGES), ("month", (month,))):
            sliced = cube.place_slice(place, key, list(values))
            answers.append(
                [
                    ((months, (*_meaning(months, (key,), e)[1], ("district", place))), shown)
                    for e, shown in sliced.items()
                ]
            )
    return [[((m, tuple(sorted(f))), shown) for (m, f), shown in a] for a in answers]


def year_answers(data: Data) -> list[Answer]:
    """The year by month, for all districts and for each."""
    by = ("district", "month")
    counts = fetch_from(data)(date(2026, 1, 1), date(2026, 12, 31), [by])[by]
    answers = []
    for place in (None, *DISTRICTS):
        fixed = (("district", place),) if place else ()
        series = month_series(counts, list(MONTHS), place)
        answers.append([((frozenset({e[0]}), fixed), shown) for e, shown in series.items()])
    return answers


def statuses(answers: list[Answer]) -> dict[Meaning, set[int | str]]:
    seen: dict[Meaning, set[int | str]] = {}
    for answer in answers:
        for meaning, shown in answer:
            seen.setdefault(meaning, set()).add("hidden" if isinstance(shown, str) else shown)
    return seen


def largest(answers: list[Answer]) -> list[Answer]:
    """The answers no other one contains: with every entry shown alike wherever it is
    published, two answers tell no more than the two largest that hold them."""
    sets = [frozenset(meaning for meaning, _ in answer) for answer in answers]
    kept = []
    for index, answer in enumerate(answers):
        inside = any(
            sets[index] < sets[other] or (sets[index] == sets[other] and other < index)
            for other in range(len(answers))
        )
        if not inside:
            kept.append(answer)
    return kept


def vector(meaning: Meaning) -> list[int]:
    months, fixed = meaning
    return [
        int(atom[0] in months and all(atom[NAMES.index(k)] == v for k, v in fixed))
        for atom in ATOMS
    ]


def _reduce(basis: dict[int, list[int]], row: list[int]) -> list[int]:
    row = list(row)
    for pivot, base in basis.items():
        if row[pivot]:
            factor = row[pivot]
            row = [(a - factor * b) % PRIME for a, b in zip(row, base, strict=True)]
    return row


def _add(basis: dict[int, list[int]], row: list[int]) -> None:
    row = _reduce(basis, row)
    pivot = next((i for i, a in enumerate(row) if a), None)
    if pivot is None:
        return
    inverse = pow(row[pivot], PRIME - 2, PRIME)
    row = [a * inverse % PRIME for a in row]
    for other, base in basis.items():
        if base[pivot]:
            factor = base[pivot]
            basis[other] = [(a - factor * b) % PRIME for a, b in zip(base, row, strict=True)]
    basis[pivot] = row


def recovered(first: Answer, second: Answer, hidden: set[Meaning]) -> list[Meaning]:
    """The hidden entries (of any answer) that two answers' visible numbers determine."""
    basis: dict[int, list[int]] = {}
    for meaning, shown in first + second:
        if not isinstance(shown, str):
            _add(basis, vector(meaning))
    return [meaning for meaning in sorted(hidden) if not any(_reduce(basis, vector(meaning)))]


def leaks(cube_for: Callable, data: Data) -> list[Meaning]:
    """Entries shown differently by two answers, and hidden entries two answers give back.
    Months share no incident, so each month is attacked on its own; a year is its months'
    totals, each shown as the month shows it."""
    found: list[Meaning] = []
    every = [answer for month in MONTHS for answer in month_answers(cube_for, data, month)]
    every += year_answers(data)
    found += [meaning for meaning, shown in statuses(every).items() if len(shown) > 1]
    for month in MONTHS:
        answers = month_answers(cube_for, data, month)
        hidden = {m for a in answers for m, shown in a if isinstance(shown, str)}
        for first, second in itertools.combinations_with_replacement(largest(answers), 2):
            found += recovered(first, second, hidden)
    return found


class EachTableAlone(PeriodCube):
    """What publishing each table with its own suppression only would give."""

    def one_way(self, key: str) -> dict:
        counts = {group[0]: n for group, n in self.counts((key,)).items()}
        return shown_values(Grid(sorted(counts), [], {(v, TOTAL): n for v, n in counts.items()}))

    def two_way(self, first: str, second: str) -> dict:
        counts = self.counts((first, second))
        rows = sorted({g[0] for g in counts})
        columns = sorted({g[1] for g in counts})
        return shown_values(Grid(rows, columns, {(g[0], g[1]): n for g, n in counts.items()}))

    def place_slice(self, place: str, key: str, values: list[str]) -> dict:
        counts = {g[1]: n for g, n in self.counts(("district", key)).items() if g[0] == place}
        return shown_values(Grid(sorted(counts), [], {(v, TOTAL): n for v, n in counts.items()}))


NAIVE_LEAK = [1, 7, 6, 0, 3, 7, 5, 9, 7, 0, 7, 0, 5, 2, 6, 1, 1, 12, 5, 6, 6, 5, 4, 9]
BRIDGE_LEAK = [3, 0, 4, 9, 0, 0, 6, 0, 3, 7, 0, 6, 1, 0, 0, 4, 4, 0, 1, 0, 6, 4, 0, 7]
counts_of_atoms = st.lists(
    st.sampled_from([0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 20]),
    min_size=len(ATOMS),
    max_size=len(ATOMS),
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(counts_of_atoms)
def test_no_two_answers_give_a_hidden_cell_back(counts):
    data = dict(zip(ATOMS, counts, strict=True))
    assert leaks(PeriodCube, data) == []


def test_the_attacker_finds_cells_when_each_table_is_protected_alone():
    # A data set of the search that found the two below: the tables alone show entries
    # differently, or give hidden ones back; in one pattern they do not.
    data = dict(zip(ATOMS, NAIVE_LEAK, strict=True))
    assert leaks(EachTableAlone, data) != []
    assert leaks(PeriodCube, data) == []


def test_the_attacker_finds_cells_when_bridges_are_left(monkeypatch):
    # Every line holds two hidden entries or none, yet two cells can be computed back.
    data = dict(zip(ATOMS, BRIDGE_LEAK, strict=True))
    assert leaks(PeriodCube, data) == []
    monkeypatch.setattr(suppression, "_break_a_bridge", lambda *_: False)
    assert leaks(PeriodCube, data) != []


def test_a_table_is_refused_for_a_period_that_is_not_a_whole_month_or_year():
    for start, end in [
        (date(2026, 3, 2), date(2026, 3, 31)),
        (date(2026, 3, 1), date(2026, 4, 30)),
        (date(2025, 1, 1), date(2026, 12, 31)),
        (date(2026, 1, 1), date(2026, 12, 30)),
    ]:
        try:
            PeriodCube(fetch_from({}), start, end)
        except ValueError:
            continue
        raise AssertionError(f"{start}–{end} was accepted")


def _determined(grid: Grid, shown: dict, combination: dict) -> bool:
    """Whether the table's own lines fix `combination` (entry → coefficient) of hidden
    entries, whatever the hidden values are."""
    hidden = sorted(entry for entry, value in shown.items() if isinstance(value, str))
    basis: dict[int, list[int]] = {}
    for line in grid.lines():
        *cells, total = line
        signs = {**dict.fromkeys(cells, 1), total: PRIME - 1}
        _add(basis, [signs.get(entry, 0) for entry in hidden])
    wanted = [combination.get(entry, 0) % PRIME for entry in hidden]
    return not any(_reduce(basis, wanted))


def test_a_table_fixes_no_sum_of_hidden_margins_that_the_one_way_table_does_not(monkeypatch):
    # Two blocks of small cells: alone, the table by district and age would give
    # d1's total plus d2's (the two columns' totals less d5's cells) while the table by
    # district shows only the four small totals' sum; the table by district and kind
    # could then use that sum.
    rows, columns = ["d1", "d2", "d3", "d4", "d5"], ["a1", "a2", "a3", "a4"]
    counts = {(row, column): 0 for row in rows for column in columns}
    for row, block in (("d1", "ab"), ("d2", "ab"), ("d3", "cd"), ("d4", "cd")):
        for column in (f"a{'abcd'.index(letter) + 1}" for letter in block):
            counts[(row, column)] = 1
    counts.update({("d5", column): 10 for column in columns})
    grid = Grid(rows, columns, counts)
    pair = {("d1", TOTAL): 1, ("d2", TOTAL): 1}
    assert not _determined(grid, shown_values(grid), pair)
    monkeypatch.setattr(suppression, "_join_hidden_margins", lambda *_: False)
    assert _determined(grid, shown_values(grid), pair)
