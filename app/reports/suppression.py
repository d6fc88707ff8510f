"""Small-cell suppression for published counts (DOMAIN.md §Statistics).

Threat: a count of 1 to 4 can point at a woman the reader knows ("the only case of
sexual violence in Caluco in March"). Such cells are shown as "<5" (primary
suppression). A row or column and its total form an equation; with exactly one hidden
entry in it, the hidden value is the total minus the rest. So wherever a line holds
exactly one hidden entry, the next-smallest non-zero entry of that line is hidden too
(complementary suppression, shown as "*"), preferring the cells over the line's total,
until no line has a single hidden entry. Zeros stay visible: a known zero hides nothing.

A table is a grid of `rows` × `columns` plus its margins; a one-way table has no
columns, only rows and the grand total. `TOTAL` stands for a margin position.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

THRESHOLD = 5
SMALL = "<5"
HIDDEN = "*"
TOTAL = "__total__"

Entry = tuple[str, str]  # (row, column); either may be TOTAL
Shown = int | str


@dataclass
class Grid:
    rows: list[str]
    columns: list[str]  # empty for a one-way table
    counts: dict[Entry, int] = field(default_factory=dict)

    def value(self, entry: Entry) -> int:
        row, column = entry
        if row != TOTAL and column != TOTAL:
            return self.counts.get(entry, 0)
        rows = self.rows if row == TOTAL else [row]
        columns = self.columns if column == TOTAL else [column]
        if not self.columns:  # one-way: the counts sit in the total column
            return sum(self.counts.get((r, TOTAL), 0) for r in rows)
        return sum(self.counts.get((r, c), 0) for r in rows for c in columns)

    def lines(self) -> Iterator[list[Entry]]:
        """Each line's entries, its total last: the equations a reader can solve."""
        for row in [*self.rows, TOTAL] if self.columns else []:
            yield [*((row, c) for c in self.columns), (row, TOTAL)]
        for column in [*self.columns, TOTAL]:
            yield [*((r, column) for r in self.rows), (TOTAL, column)]


def primary(grid: Grid) -> set[Entry]:
    return {entry for line in grid.lines() for entry in line if 0 < grid.value(entry) < THRESHOLD}


def _complement(grid: Grid, line: list[Entry], hidden: set[Entry]) -> Entry | None:
    """The next-smallest visible non-zero entry of the line; cells before the total."""
    *cells, line_total = line
    candidates = [e for e in cells if e not in hidden and grid.value(e) > 0]
    if candidates:
        return min(candidates, key=lambda e: (grid.value(e), line.index(e)))
    if line_total not in hidden and grid.value(line_total) > 0:
        return line_total
    return None


def protect(grid: Grid) -> tuple[set[Entry], set[Entry]]:
    """(primary, complementary) hidden entries; iterated until every line is safe."""
    small = primary(grid)
    hidden = set(small)
    changed = True
    while changed:
        changed = False
        for line in grid.lines():
            if len(line) < 2 or sum(entry in hidden for entry in line) != 1:
                continue
            extra = _complement(grid, line, hidden)
            if extra is not None:
                hidden.add(extra)
                changed = True
    return small, hidden - small


def shown_values(grid: Grid) -> dict[Entry, Shown]:
    """Every entry of the grid and its margins as it may be published."""
    small, complementary = protect(grid)
    entries = {entry for line in grid.lines() for entry in line}
    return {
        entry: SMALL if entry in small else HIDDEN if entry in complementary else grid.value(entry)
        for entry in entries
    }


def single_hidden_lines(grid: Grid, shown: dict[Entry, Shown]) -> list[list[Entry]]:
    """Lines whose one hidden entry could be computed back (none, when protected)."""
    return [
        line
        for line in grid.lines()
        if len(line) > 1 and sum(isinstance(shown[e], str) for e in line) == 1
    ]
