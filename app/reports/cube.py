"""One suppression pattern per published period, so that no two answers combine.

Each table is protected on its own by `suppression`; this module makes the tables of a
period agree. A two-way table's margins are one-way tables' rows and a district's table is
a row of the table by district: an entry published in two answers is hidden in both or in
neither, and the entries another answer fixes are never chosen as complements there.
Two two-way tables that share a dimension meet only in those margins, and `suppression`
keeps each from telling anything of the hidden ones, so neither helps the other.

Periods are whole calendar months or whole calendar years (`period_kind`): two periods
that overlap in part of a month are one subtraction away from the days where they
differ. A year is built from its months, which are published too: its table by month is
the months' own totals, and a year's row (say a district's) is hidden whenever its months
would give one of them back. A year's table by anything and month is published only as
one district's months. What is left (three answers and more) is in docs/statistics.md.

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
# The counts of a period by each of several dimension tuples (fetched together).
Fetch = Callable[[date, date, list[tuple[str, ...]]], dict[tuple[str, ...], Counts]]
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
    """The published pattern of every table of one month or one year."""

    def __init__(self, fetch: Fetch, start: date, end: date) -> None:
        kind = period_kind(start, end)
        if kind is None:
            raise ValueError("tables are published for a whole month or a whole year")
        if kind == "year" and start.year != end.year:
            raise ValueError("a year is one calendar year")
        self.fetch, self.start, self.end, self.kind = fetch, start, end, kind
        self._counts_memo: dict[tuple[str, ...], Counts] = {}
        self._memo: dict[tuple[str, ...], Pattern] = {}

    def counts(self, by: tuple[str, ...]) -> Counts:
        self.fetch_together([by])
        return self._counts_memo[by]

    def fetch_together(self, bys: list[tuple[str, ...]]) -> None:
        """Fetch the counts of `bys` not fetched yet, in one go."""
        wanted = [by for by in bys if by not in self._counts_memo]
        if wanted:
            self._counts_memo |= self.fetch(self.start, self.end, wanted)

    def _year_by_month(self, keys: list[str]) -> list[tuple[str, ...]]:
        """The tables by month a year's pattern of `keys` reads: fetched with its own,
        counted again after a write in one query rather than one each."""
        if self.kind != "year" or "month" in keys:
            return []
        return [*((key, "month") for key in keys), ("month",)]

    def _remember(self, key: tuple[str, ...], make: Callable[[], Pattern]) -> Pattern:
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    # ---- one-way tables ----------------------------------------------------------------

    def one_way(self, key: str) -> Pattern:
        return self._remember(("one", key), lambda: self._one_way(key))

    def _one_way(self, key: str) -> Pattern:
        self.fetch_together([(key,), *self._year_by_month([key])])
        grid = one_way_grid({values[0]: n for values, n in self.counts((key,)).items()})
        if self.kind == "month":
            return shown_values(grid)
        if key == "month":
            # Each month's total is published by the month itself: none may be a
            # complement here, so a lone hidden month hides the year's total.
            return shown_values(grid, Fixed(shown=frozenset(grid.counts)))
        by_month = self.by_month(key)
        rows = {(value, TOTAL): (value, TOTAL) for value in grid.rows}
        rows[(TOTAL, TOTAL)] = (TOTAL, TOTAL)
        return shown_values(grid, _fixed_as(by_month, rows))

    # ---- a year by month ---------------------------------------------------------------

    def by_month(self, key: str) -> Pattern:
        """The year's `key` × month grid: its cells and column totals are the months'
        own tables, its row totals the year's table by `key`, hidden wherever a row's
        months would give a hidden month's cell back. Published only row by row, as one
        district's months (a whole grid would tell sums of hidden totals that the
        year's other tables could use)."""
        return self._remember(("by_month", key), lambda: self._by_month(key))

    def _by_month(self, key: str) -> Pattern:
        counts = self.counts((key, "month"))
        values = sorted({group[0] for group in counts})
        months = month_codes(self.start.year)
        grid = Grid(values, months, {(group[0], group[1]): n for group, n in counts.items()})
        fixed = [self._months_fixed(counts, values, month) for month in months]
        year_total = _fixed_as(self.one_way("month"), {(TOTAL, TOTAL): (TOTAL, TOTAL)})
        return shown_values(grid, _joined(*fixed, year_total))

    @staticmethod
    def _months_fixed(counts: Counts, values: list[str], month: str) -> Fixed:
        """What the month's own one-way table publishes, placed in the year's column."""
        own = one_way_grid({value: counts.get((value, month), 0) for value in values})
        pattern = shown_values(own)
        places = {(value, month): (value, TOTAL) for value in values}
        places[(TOTAL, month)] = (TOTAL, TOTAL)
        return _fixed_as(pattern, places)

    # ---- two-way tables ----------------------------------------------------------------

    def two_way(self, first: str, second: str) -> Pattern:
        if self.kind == "year" and "month" in (first, second):
            raise ValueError("a year's table by month has one dimension")
        return self._remember(("two", first, second), lambda: self._two_way(first, second))

    def _two_way(self, first: str, second: str) -> Pattern:
        # its margins' tables, and in a year the margins' own months
        self.fetch_together(
            [(first, second), (first,), (second,), *self._year_by_month([first, second])]
        )
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

    # ---- one district ------------------------------------------------------------------

    def place_slice(self, place: str, key: str, values: list[str]) -> Pattern:
        """The table by `key` of the incidents of one district, as the row of that
        district in the table by district and `key` publishes it."""
        if key in GEOGRAPHY or (key == "month" and self.kind == "month"):
            status = self.one_way("district").get((place, TOTAL))
            return {entry: status for entry in _one_way_entries(values) if status is not None}
        source = self.by_month("district") if key == "month" else self.two_way("district", key)
        sliced = {(value, TOTAL): source.get((place, value)) for value in values}
        sliced[(TOTAL, TOTAL)] = source.get((place, TOTAL))
        return {entry: status for entry, status in sliced.items() if status is not None}


def month_codes(year: int) -> list[str]:
    return [f"{year:04d}-{month:02d}" for month in range(1, 13)]


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
