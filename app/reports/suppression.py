"""Small-cell suppression for published counts (DOMAIN.md §Statistics).

Threat: a count of 1 to 4 can point at a woman the reader knows ("the only case of
sexual violence in Caluco in March"). Such cells are shown as "<5" (primary
suppression). A row or column and its total form an equation; with exactly one hidden
entry in it, the hidden value is the total minus the rest. So wherever a line holds
exactly one hidden entry, the next-smallest non-zero entry of that line is hidden too
(complementary suppression, shown as "*"), preferring the cells over the line's total,
until no line has a single hidden entry. Lines also combine: in a two-way table any
hidden entry that no cycle of hidden entries passes through can be computed back, so one
more entry is hidden until every hidden entry lies on such a cycle (see `bridges`). Zeros
stay visible: a known zero hides nothing.

Tables of the same period are published with one pattern: what one table shows or
hides of an entry that another also shows (a margin of a two-way table is a one-way
table's row) is `Fixed` for the other, so that no two answers combine to give back a
hidden entry (app/reports/stats.py, docs/statistics.md).

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


@dataclass(frozen=True)
class Fixed:
    """Entries another published table of the same period already shows: `hidden` ones
    stay hidden here, and none of `shown` may be hidden here (a reader has its value), so
    neither can serve as a complement (docs/statistics.md)."""

    hidden: frozenset[Entry] = frozenset()
    shown: frozenset[Entry] = frozenset()

    @property
    def frozen(self) -> frozenset[Entry]:
        return self.hidden | self.shown


NOTHING_FIXED = Fixed()


def _smallest(grid: Grid, entries: list[Entry], order: list[Entry]) -> Entry | None:
    if not entries:
        return None
    return min(entries, key=lambda e: (grid.value(e), order.index(e)))


def _complement(
    grid: Grid, line: list[Entry], hidden: set[Entry], frozen: frozenset[Entry]
) -> Entry | None:
    """The next-smallest visible non-zero entry of the line; cells before the total."""
    *cells, line_total = line
    free = [e for e in cells if e not in hidden and e not in frozen and grid.value(e) > 0]
    if free:
        return _smallest(grid, free, line)
    if line_total not in hidden and line_total not in frozen and grid.value(line_total) > 0:
        return line_total
    return None


def _hide_lone_entries(grid: Grid, hidden: set[Entry], frozen: frozenset[Entry]) -> bool:
    """A line with exactly one hidden entry gets a second one; True if anything changed."""
    changed = False
    for line in grid.lines():
        if len(line) < 2 or sum(entry in hidden for entry in line) != 1:
            continue
        extra = _complement(grid, line, hidden, frozen)
        if extra is not None:
            hidden.add(extra)
            changed = True
    return changed


def protect(grid: Grid, fixed: Fixed = NOTHING_FIXED) -> tuple[set[Entry], set[Entry]]:
    """(primary, complementary) hidden entries; iterated until no published equation, nor
    any combination of them, gives a hidden entry back."""
    small = primary(grid)
    hidden = small | set(fixed.hidden)
    frozen = fixed.frozen | _pinned(grid, fixed.shown - small, hidden)
    while (
        _hide_lone_entries(grid, hidden, frozen)
        or _break_a_bridge(grid, hidden, frozen)
        or _join_hidden_margins(grid, hidden, frozen)
    ):
        pass
    return small, hidden - small


def _pinned(grid: Grid, known: frozenset[Entry], hidden: set[Entry]) -> frozenset[Entry]:
    """Free entries whose value other tables already give: a line whose every other
    entry is shown elsewhere. Hiding one would hide nothing, so none is a complement."""
    pinned: set[Entry] = set()
    for line in grid.lines():
        unknown = [entry for entry in line if entry not in known]
        if len(unknown) == 1 and unknown[0] not in hidden:
            pinned.add(unknown[0])
    return frozenset(pinned)


# A two-way table with its margins is a grid whose every line sums to zero once the
# margins are counted negative. Hidden entries are the edges of a bipartite graph between
# its lines (rows and columns, margins included); an entry can be computed back from the
# published ones exactly when it lies on no cycle of that graph, that is when it is a
# bridge. A line holding one hidden entry is the simplest bridge; two hidden rectangles
# joined by one entry is another, which the line rule alone lets through.
Vertex = tuple[str, str]


def _graph(hidden: set[Entry]) -> dict[Vertex, list[tuple[Vertex, Entry]]]:
    graph: dict[Vertex, list[tuple[Vertex, Entry]]] = {}
    for entry in sorted(hidden):
        row, column = ("r", entry[0]), ("c", entry[1])
        graph.setdefault(row, []).append((column, entry))
        graph.setdefault(column, []).append((row, entry))
    return graph


def bridges(hidden: set[Entry]) -> list[Entry]:
    """The hidden entries of a two-way grid that the published ones determine."""
    graph = _graph(hidden)
    order: dict[Vertex, int] = {}
    low: dict[Vertex, int] = {}
    found: list[Entry] = []
    for root in graph:
        if root in order:
            continue
        order[root] = low[root] = len(order)
        stack: list[tuple[Vertex, Entry | None, int]] = [(root, None, 0)]
        while stack:
            vertex, via, index = stack.pop()
            if index < len(graph[vertex]):
                stack.append((vertex, via, index + 1))
                neighbour, entry = graph[vertex][index]
                if entry == via:
                    continue
                if neighbour in order:
                    low[vertex] = min(low[vertex], order[neighbour])
                else:
                    order[neighbour] = low[neighbour] = len(order)
                    stack.append((neighbour, entry, 0))
            elif via is not None:
                parent = _other_end(vertex, via)
                low[parent] = min(low[parent], low[vertex])
                if low[vertex] > order[parent]:
                    found.append(via)
    return found


def _other_end(vertex: Vertex, entry: Entry) -> Vertex:
    return ("c", entry[1]) if vertex[0] == "r" else ("r", entry[0])


def _side(hidden: set[Entry], start: Vertex, cut: Entry) -> set[Vertex]:
    graph = _graph(hidden - {cut})
    seen, pending = {start}, [start]
    while pending:
        for neighbour, _ in graph.get(pending.pop(), []):
            if neighbour not in seen:
                seen.add(neighbour)
                pending.append(neighbour)
    return seen


def _break_a_bridge(grid: Grid, hidden: set[Entry], frozen: frozenset[Entry]) -> bool:
    """Hide one more entry joining the two sides of the first bridge, which puts it on a
    cycle; when nothing may be hidden, every free entry goes (the table says nothing)."""
    if not grid.columns:
        return False
    found = bridges(hidden)
    if not found:
        return False
    bridge = found[0]
    rows_side = _side(hidden, ("r", bridge[0]), bridge)
    columns_side = _side(hidden, ("c", bridge[1]), bridge)
    order = [entry for line in grid.lines() for entry in line]
    joining = [
        entry
        for entry in order
        if entry not in hidden
        and entry not in frozen
        and (
            (("r", entry[0]) in rows_side and ("c", entry[1]) in columns_side)
            or (("r", entry[0]) in columns_side and ("c", entry[1]) in rows_side)
        )
    ]
    choice = _smallest(grid, [e for e in joining if grid.value(e) > 0], order) or _smallest(
        grid, joining, order
    )
    if choice is not None:
        hidden.add(choice)
        return True
    free = {entry for entry in order if entry not in frozen} - hidden
    hidden |= free
    return bool(free)


# Two two-way tables that share a dimension (district × type, district × age) meet in its
# margins, the one-way table's rows. If one of them determines a sum of hidden margins
# (say Acajutla's and Izalco's totals together) that the one-way table does not, the other
# can use it. It determines none when, without the margins' own edges, every hidden
# margin of a side still joins the others and the grand total's line: then the margins
# can move together along cycles while everything published stays the same. The grand
# total's line counts as joined when the total is shown, for the one-way table publishes
# that sum anyway.


def _components(edges: set[Entry]) -> dict[Vertex, Vertex]:
    parent: dict[Vertex, Vertex] = {}

    def find(vertex: Vertex) -> Vertex:
        parent.setdefault(vertex, vertex)
        while parent[vertex] != vertex:
            parent[vertex] = parent[parent[vertex]]
            vertex = parent[vertex]
        return vertex

    for row, column in edges:
        parent[find(("r", row))] = find(("c", column))
    return {vertex: find(vertex) for vertex in list(parent)}


def _margin_ends(grid: Grid, hidden: set[Entry], side: str) -> tuple[set[Entry], list[Vertex]]:
    """A side's hidden margins and the vertices that must share one component."""
    if side == "rows":
        margins = {(row, TOTAL) for row in grid.rows if (row, TOTAL) in hidden}
        ends = [("r", row) for row, _ in sorted(margins)]
        total_line: Vertex = ("c", TOTAL)
    else:
        margins = {(TOTAL, column) for column in grid.columns if (TOTAL, column) in hidden}
        ends = [("c", column) for _, column in sorted(margins)]
        total_line = ("r", TOTAL)
    if (TOTAL, TOTAL) in hidden:
        ends.append(total_line)
    return margins, ends


def _split_margins(grid: Grid, hidden: set[Entry], side: str) -> dict[Vertex, Vertex] | None:
    """The components without the side's margins, when its ends are not all in one."""
    margins, ends = _margin_ends(grid, hidden, side)
    if len(ends) < 2:
        return None
    components = _components(hidden - margins)
    roots = {components.get(vertex, vertex) for vertex in ends}
    return components if len(roots) > 1 else None


def _join_hidden_margins(grid: Grid, hidden: set[Entry], frozen: frozenset[Entry]) -> bool:
    """Hide one more cell joining two components of a side's hidden margins; when none
    may be hidden, every free entry goes."""
    if not grid.columns:
        return False
    for side in ("rows", "columns"):
        components = _split_margins(grid, hidden, side)
        if components is None:
            continue
        _, ends = _margin_ends(grid, hidden, side)
        wanted = {components.get(vertex, vertex) for vertex in ends}
        order = [entry for line in grid.lines() for entry in line]
        joining = [
            (row, column)
            for row, column in order
            if (row, column) not in hidden
            and (row, column) not in frozen
            and row != TOTAL
            and column != TOTAL
            and components.get(("r", row), ("r", row))
            != components.get(("c", column), ("c", column))
            and (
                components.get(("r", row), ("r", row)) in wanted
                or components.get(("c", column), ("c", column)) in wanted
            )
        ]
        choice = _smallest(grid, [e for e in joining if grid.value(e) > 0], order) or _smallest(
            grid, joining, order
        )
        if choice is not None:
            hidden.add(choice)
            return True
        free = {entry for entry in order if entry not in frozen} - hidden
        hidden |= free
        return bool(free)
    return False


def shown_values(grid: Grid, fixed: Fixed = NOTHING_FIXED) -> dict[Entry, Shown]:
    """Every entry of the grid and its margins as it may be published."""
    small, complementary = protect(grid, fixed)
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
