"""One suppression pattern per published month, so that no two answers combine.

Each table is protected on its own by `suppression`; this module makes the tables of a
month agree. A two-way table's margins are one-way tables' rows and a district's table is
a row of the table by district: an entry published in two answers is hidden in both or in
neither, and the entries another answer fixes are never chosen as complements there.
Two two-way tables that share a dimension meet only in those margins, and `suppression`
keeps each from telling anything of the hidden ones, so neither helps the other.

Tables are published for whole calendar months only. Two periods that overlap in part
are one subtraction away from the counts where they differ, and that includes a year
and its months: in a year with incidents in two months, the year's table less one
month's is the other month's. A year is published as its twelve months, each as the
month publishes it (`month_series`), with no sum of its own (docs/statistics.md).

Nothing here queries: `Fetch` brings the counts (unsuppressed, all consenting incidents
of the period, grouped by the dimensions asked). Patterns are computed on codes in
sorted order, the same for every answer, and memoised for the request.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Callable
from datetime import date

from app.reports.suppression import TOTAL, Entry, Fixed, Grid, Shown, shown_values

Counts = dict[tuple[str, ...], int]
Fetch = Callable[[date, date, tuple[str, ...]], Counts]
Pattern = dict[Entry, Shown]
GEOGRAPHY = ("district", "municipality", "department")


def month_end(first: date) -> date:
    return first.replace(day=monthrange(first.year, first.month)[1])


def period_kind(start: date, end: date) -> str | None:
    """`month` or `year` when the period is a whole calendar one; None otherwise."""
    if start.day == 1 and end == month_end(start):
        return "month"
    if (start.month, start.day) == (1, 1) and end == date(start.year, 12, 31):
        return "year"
    return None


def is_hidden(shown: Shown | None) -> bool:
    return isinstance(shown, str)


def _fixed_as(pattern: Pattern, entries: dict[Entry, Entry]) -> Fixed:
    """`entries` maps an entry here to the entry of `pattern` that publishes the same."""
    hidden = {here for here, there in entries.items() if is_hidden(pattern.get(there))}
    shown = {here for here, there in entries.items() if there in pattern} - hidden
    return Fixed(frozenset(hidden), frozenset(shown))


def _joined(*parts: Fixed) -> Fixed:
    hidden = frozenset().union(*(part.hidden for part in parts))
    shown = frozenset().union(*(part.shown for part in parts)) - hidden
    return Fixed(hidden, shown)


def one_way_grid(counts: dict[str, int]) -> Grid:
    return Grid(sorted(counts), [], {(value, TOTAL): n for value, n in counts.items()})


class PeriodCube:
    """The published pattern of every table of one month."""

    def __init__(self, fetch: Fetch, start: date, end: date) -> None:
        if period_kind(start, end) != "month":
            raise ValueError("tables are published for one whole month")
        self.fetch, self.start, self.end = fetch, start, end
        self._counts_memo: dict[tuple[str, ...], Counts] = {}
        self._memo: dict[tuple[str, ...], Pattern] = {}

    def counts(self, by: tuple[str, ...]) -> Counts:
        if by not in self._counts_memo:
            self._counts_memo[by] = self.fetch(self.start, self.end, by)
        return self._counts_memo[by]

    def _remember(self, key: tuple[str, ...], make: Callable[[], Pattern]) -> Pattern:
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def one_way(self, key: str) -> Pattern:
        def make() -> Pattern:
            counts = {values[0]: n for values, n in self.counts((key,)).items()}
            return shown_values(one_way_grid(counts))

        return self._remember(("one", key), make)

    def two_way(self, first: str, second: str) -> Pattern:
        return self._remember(("two", first, second), lambda: self._two_way(first, second))

    def _two_way(self, first: str, second: str) -> Pattern:
        counts = self.counts((first, second))
        rows = sorted({group[0] for group in counts})
        columns = sorted({group[1] for group in counts})
        grid = Grid(rows, columns, {(group[0], group[1]): n for group, n in counts.items()})
        if "month" in (first, second):  # one month: the table repeats the other one
            return shown_values(grid, self._single_month_fixed(grid, first, second))
        by_rows = {(row, TOTAL): (row, TOTAL) for row in rows}
        by_rows[(TOTAL, TOTAL)] = (TOTAL, TOTAL)
        by_columns = {(TOTAL, column): (column, TOTAL) for column in columns}
        return shown_values(
            grid,
            _joined(
                _fixed_as(self.one_way(first), by_rows),
                _fixed_as(self.one_way(second), by_columns),
            ),
        )

    def _single_month_fixed(self, grid: Grid, first: str, second: str) -> Fixed:
        other = self.one_way(second if first == "month" else first)
        places: dict[Entry, Entry] = {}
        for row in [*grid.rows, TOTAL]:
            for column in [*grid.columns, TOTAL]:
                value = column if first == "month" else row
                places[(row, column)] = (value, TOTAL)
        return _fixed_as(other, places)

    def place_slice(self, place: str, key: str, values: list[str]) -> Pattern:
        """The table by `key` of the incidents of one district, as the row of that
        district in the table by district and `key` publishes it."""
        if key in GEOGRAPHY or key == "month":
            status = self.one_way("district").get((place, TOTAL))
            return {entry: status for entry in _one_way_entries(values) if status is not None}
        source = self.two_way("district", key)
        sliced = {(value, TOTAL): source.get((place, value)) for value in values}
        sliced[(TOTAL, TOTAL)] = source.get((place, TOTAL))
        return {entry: status for entry, status in sliced.items() if status is not None}


def _one_way_entries(values: list[str]) -> list[Entry]:
    return [*((value, TOTAL) for value in values), (TOTAL, TOTAL)]


def month_series(counts: Counts, months: list[str], place: str | None) -> Pattern:
    """Each month's total (or one district's), as the month's own table by district
    publishes it: a trend over months that are not one year adds no sum of its own."""
    series: Pattern = {}
    for month in months:
        own = one_way_grid({g[0]: n for g, n in counts.items() if g[1] == month})
        pattern = shown_values(own)
        series[(month, TOTAL)] = pattern.get((place, TOTAL) if place else (TOTAL, TOTAL), 0)
    return series
