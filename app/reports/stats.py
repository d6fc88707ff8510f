"""De-identified counts of incidents (or cases, or women) by one or two dimensions over a period.

Only cases whose survivor consented to statistics count (`Case.consent_statistics`,
the consent in force, so a revocation takes effect at the next query). The database
does the counting (GROUP BY over plain columns); nothing is decrypted. Small cells
are suppressed before anything leaves this module (see `suppression`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from flask_babel import gettext
from sqlalchemy import distinct, func, literal_column, select, tuple_, union
from sqlalchemy.orm import aliased

from app.cases.models import Case, Incident, Survivor
from app.cases.repeats import counted_once
from app.cases.service import resolve_municipality
from app.core.db import DbSession
from app.core.errors import InvalidInput
from app.core.i18n import N_
from app.reports.cube import Counts, Pattern, PeriodCube, is_hidden, month_series, period_kind
from app.reports.dimensions import DIMENSIONS, JOINS, Dimension
from app.reports.labels import labels_for
from app.reports.models import StatRepeat, StatSharedCode
from app.reports.stored import Asked, Counting, stored_counts
from app.reports.suppression import HIDDEN, SMALL, THRESHOLD, TOTAL, Entry, Grid, Shown

UNITS = ("incidents", "cases", "survivors")
MAX_DIMENSIONS = 2


@dataclass(frozen=True)
class StatsQuery:
    start: date
    end: date
    by: tuple[str, ...] = ("district",)
    unit: str = "incidents"
    municipality: str | None = None  # a district code: only incidents there


@dataclass
class Axis:
    dimension: str
    label: str
    values: list[str]
    labels: dict[str, str]


@dataclass
class StatsTable:
    query: StatsQuery
    rows: Axis
    columns: Axis | None
    shown: dict[Entry, Shown]

    def cell(self, row: str, column: str = TOTAL) -> Shown:
        return self.shown[(row, column)]

    def column_total(self, column: str) -> Shown:
        return self.shown[(TOTAL, column)]

    @property
    def total(self) -> Shown:
        return self.shown[(TOTAL, TOTAL)]

    def column_keys(self) -> list[str]:
        return self.columns.values if self.columns else []


WHOLE_PERIOD = N_(
    "Pida un mes completo (del día 1 al último del mes) o un año completo (del 1 de enero "
    "al 31 de diciembre)."
)
MONTH_ALONE_IN_A_YEAR = N_("En un año, el mes va solo o con un distrito.")
ONE_DIMENSION_FOR_A_PLACE = N_("Para un solo distrito pida una sola dimensión.")


def _month_beside_another(query: StatsQuery) -> bool:
    return len(query.by) > 1 and "month" in query.by


def check_query(query: StatsQuery) -> None:
    """Typed 422s for what the API and the pages may be sent."""
    problems: dict[str, list[str]] = {}
    unknown = [key for key in query.by if key not in DIMENSIONS]
    if unknown or not query.by:
        problems["by"] = [f"Use una o dos de: {', '.join(DIMENSIONS)}."]
    elif len(query.by) > MAX_DIMENSIONS or len(set(query.by)) != len(query.by):
        problems["by"] = ["Indique una dimensión o dos distintas."]
    if query.unit not in UNITS:
        problems["unit"] = ["Use incidents, cases o survivors."]
    if query.start > query.end:
        problems["from"] = ["El periodo empieza después de terminar."]
    elif period_kind(query.start, query.end) is None:
        problems["from"] = [gettext(WHOLE_PERIOD)]
    elif period_kind(query.start, query.end) == "year" and _month_beside_another(query):
        problems["by"] = [gettext(MONTH_ALONE_IN_A_YEAR)]
    if query.municipality and len(query.by) > 1:
        problems["municipality"] = [gettext(ONE_DIMENSION_FOR_A_PLACE)]
    if problems:
        raise InvalidInput("invalid statistics query", problems)


def _measure(query: StatsQuery, dimensions: list[Dimension]) -> Any:
    # A referral join repeats an incident once per referral, and a case has several
    # incidents: count distinct ids then. Otherwise each joined row is one incident
    # (per violence type), and a plain COUNT(*) is cheaper.
    if query.unit == "cases":
        return func.count(func.distinct(Incident.case_id))
    if query.unit == "survivors":
        # One woman, one code, whichever record and institution; a survivor without a
        # code yet (before `keys statistics-codes`) counts once, by her case.
        return func.count(func.distinct(func.coalesce(Survivor.stat_code, Case.number)))
    if any(d.join == "referral" for d in dimensions):
        return func.count(func.distinct(Incident.id))
    return func.count()


def _counted(session: DbSession, query: StatsQuery, *measured: Any) -> tuple[Any, list[Any]]:
    """SELECT the dimensions' values and `measured` of every incident the query counts
    (with its joins and conditions), and those value columns."""
    dialect = session.get_bind().dialect.name
    dimensions = [DIMENSIONS[key] for key in query.by]
    columns = [d.expression(dialect).label(f"d{i}") for i, d in enumerate(dimensions)]
    stmt = select(*columns, *measured).select_from(Incident).join(Case, Case.id == Incident.case_id)
    joins = [d.join for d in dimensions if d.join]
    if query.unit == "survivors":
        joins.append("survivor")
    for join in dict.fromkeys(joins):
        stmt = JOINS[join](stmt)
    stmt = stmt.where(
        Case.consent_statistics.is_(True),
        Incident.voided_at.is_(None),  # entered in error: kept on her record, never counted
        counted_once(),  # the same event reported again counts under its first report
        Incident.occurred_on >= query.start,
        Incident.occurred_on <= query.end,
    )
    if query.municipality:
        stmt = stmt.where(Incident.municipality == query.municipality)
    return stmt, columns


def count_groups(session: DbSession, query: StatsQuery) -> dict[tuple[str, ...], int]:
    """{(value, …): count} for the non-empty groups; no suppression yet."""
    dimensions = [DIMENSIONS[key] for key in query.by]
    stmt, columns = _counted(session, query, _measure(query, dimensions))
    stmt = stmt.group_by(*columns)
    return {tuple(str(v) for v in row[:-1]): int(row[-1]) for row in session.execute(stmt)}


def _unit_key(query: StatsQuery) -> Any:
    """What one unit is: an incident, a case, or a woman (her code, else her case)."""
    if query.unit == "cases":
        return Incident.case_id
    if query.unit == "survivors":
        return func.coalesce(Survivor.stat_code, Case.number)
    return Incident.id


def count_together(
    session: DbSession, start: date, end: date, asked: list[Asked]
) -> dict[Asked, Counts]:
    """The counts of each of `asked` (one unit and district) over the period, from one
    reading of the incidents where the database can group several ways at once
    (PostgreSQL's GROUPING SETS); one query each otherwise."""
    if len(asked) > 1 and session.get_bind().dialect.name == "postgresql":
        return _grouping_sets(session, start, end, asked)
    return {
        one: count_groups(session, StatsQuery(start, end, one.by, one.unit, one.place))
        for one in asked
    }


def _grouping_sets(
    session: DbSession, start: date, end: date, asked: list[Asked]
) -> dict[Asked, Counts]:
    keys = tuple(dict.fromkeys(key for one in asked for key in one.by))
    query = StatsQuery(start, end, keys, asked[0].unit, asked[0].place)
    # Several rows per incident (its types, its referrals): count each unit once.
    stmt, columns = _counted(session, query, func.count(func.distinct(_unit_key(query))))
    # GROUPING(d0, d1, …): a bit for each dimension the row's set leaves out, d0 highest.
    stmt = stmt.add_columns(func.grouping(*columns))
    sets = [tuple_(*(columns[keys.index(key)] for key in one.by)) for one in asked]
    by_mask = {_left_out(keys, one.by): one for one in asked}
    counted: dict[Asked, Counts] = {one: {} for one in asked}
    for row in session.execute(stmt.group_by(func.grouping_sets(*sets))):
        one = by_mask[row[-1]]
        group = tuple(str(row[keys.index(key)]) for key in one.by)
        counted[one][group] = int(row[-2])
    return counted


def _left_out(keys: tuple[str, ...], by: tuple[str, ...]) -> int:
    return sum(1 << (len(keys) - 1 - i) for i, key in enumerate(keys) if key not in by)


def count_returns(
    session: DbSession, start: date, end: date, since: date, asked: list[Asked]
) -> dict[Asked, dict[str, Counts]]:
    """For each of `asked` (cases or women over the year `start`–`end`), for each month
    from `since`'s to the year's end, by group: the cases or women that month counts
    whom an earlier month of the year already counted there. The year's distinct counts
    are its months' counts less all of these. Only a year's repeats (`StatRepeat`,
    `StatSharedCode`) can lie in two of its months, so only their incidents are read,
    once for all of `asked` of one unit and district."""
    returns: dict[Asked, dict[str, Counts]] = {}
    for same in _by_unit_and_place(asked):
        returns |= _returns(session, start, end, since, same)
    return returns


def _by_unit_and_place(asked: list[Asked]) -> list[list[Asked]]:
    groups: dict[tuple[str, str | None], list[Asked]] = {}
    for one in asked:
        groups.setdefault((one.unit, one.place), []).append(one)
    return list(groups.values())


def _returns(
    session: DbSession, start: date, end: date, since: date, asked: list[Asked]
) -> dict[Asked, dict[str, Counts]]:
    if session.get_bind().dialect.name == "postgresql":
        return _returns_together(session, start, end, since, asked)
    return {one: _returns_together(session, start, end, since, [one])[one] for one in asked}


def _returns_together(
    session: DbSession, start: date, end: date, since: date, asked: list[Asked]
) -> dict[Asked, dict[str, Counts]]:
    """One query: each repeat's months, by group, where she lies in two or more; several
    groupings at once are GROUPING SETS (PostgreSQL)."""
    keys = tuple(dict.fromkeys(key for one in asked for key in one.by))
    query = StatsQuery(start, end, keys, asked[0].unit, asked[0].place)
    dialect = session.get_bind().dialect.name
    month = DIMENSIONS["month"].expression(dialect)
    stmt, columns = _counted(session, query, _months_listed(dialect, month))
    unit = _unit_key(query)
    stmt = stmt.where(Incident.case_id.in_(_repeats(query, since)))
    stmt = stmt.having(func.count(func.distinct(month)) > 1)
    if len(asked) > 1:
        sets = [tuple_(*(columns[keys.index(key)] for key in one.by), unit) for one in asked]
        stmt = stmt.add_columns(func.grouping(*columns)).group_by(func.grouping_sets(*sets))
    else:
        stmt = stmt.add_columns(literal_column("0")).group_by(*columns, unit)
    by_mask = {_left_out(keys, one.by) if len(asked) > 1 else 0: one for one in asked}
    first_code = f"{since.year:04d}-{since.month:02d}"
    returns: dict[Asked, dict[str, Counts]] = {one: {} for one in asked}
    for row in session.execute(stmt):
        one = by_mask[row[-1]]
        group = tuple(str(row[keys.index(key)]) for key in one.by)
        by_month = returns[one]
        for later in sorted(row[-2].split(","))[1:]:  # every month after her first there
            if later >= first_code:
                counts = by_month.setdefault(later, {})
                counts[group] = counts.get(group, 0) + 1
    return returns


def _months_listed(dialect: str, month: Any) -> Any:
    """A group's months, each once, as one text: `2026-03,2026-10`."""
    if dialect == "postgresql":
        return func.string_agg(distinct(month), literal_column("','"))
    return func.group_concat(distinct(month))


def _repeats(query: StatsQuery, since: date) -> Any:
    """The cases whose incidents may lie in two months of the query's year, one of them
    from `since` on: its repeats with an incident then and, when women are counted,
    every record of a woman who has several."""
    # aliases: the counting statement has its own incidents, cases and survivors
    later = aliased(Incident)
    repeats = select(StatRepeat.case_id).where(
        StatRepeat.year == query.start.year,
        StatRepeat.case_id.in_(
            select(later.case_id).where(later.occurred_on >= since, later.occurred_on <= query.end)
        ),
    )
    if query.unit != "survivors":
        return repeats
    record, woman = aliased(Case), aliased(Survivor)
    shared = (
        select(record.id)
        .join(woman, woman.id == record.survivor_id)
        .where(woman.stat_code.in_(select(StatSharedCode.stat_code)))
    )
    return union(repeats, shared)


def months_between(start: date, end: date) -> list[str]:
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _axis(session: DbSession, query: StatsQuery, key: str, seen: set[str]) -> Axis:
    dimension = DIMENSIONS[key]
    values = set(seen)
    if key == "month":
        values |= set(months_between(query.start, query.end))
    labels = labels_for(session, key, sorted(values))
    fixed = {value: index for index, value in enumerate(dimension.order)}

    def place(value: str) -> tuple[int, str]:
        # The dimension's own order first (age groups…), then months in time, others by name.
        return fixed.get(value, len(fixed)), value if key == "month" else labels[value]

    return Axis(key, dimension.label, sorted(values, key=place), labels)


def stored_groups(session: DbSession, query: StatsQuery) -> Counts:
    """`count_groups` of a whole month or year, as stored (`stored.py`)."""
    asked = Asked(query.unit, query.by, query.municipality)
    return stored_counts(session).counts(query.start, query.end, asked, _counter(session))


def _counter(session: DbSession) -> Counting:
    return Counting(
        groups=lambda start, end, asked: count_together(session, start, end, asked),
        returns=lambda start, end, since, asked: count_returns(session, start, end, since, asked),
    )


def period_cube(session: DbSession, query: StatsQuery) -> PeriodCube:
    """The period's pattern, fed by unfiltered counts in the query's unit."""
    stored = stored_counts(session)

    def fetch(start: date, end: date, bys: list[tuple[str, ...]]) -> dict[tuple[str, ...], Counts]:
        asked = [Asked(query.unit, by) for by in bys]
        counted = stored.counts_together(start, end, asked, _counter(session))
        return {one.by: counted[one] for one in asked}

    return PeriodCube(fetch, query.start, query.end)


def published(grid: Grid, pattern: Pattern) -> dict[Entry, Shown]:
    """The grid's values, hidden where the period's pattern hides the same entry (or
    where the value is small, whatever the pattern)."""
    shown: dict[Entry, Shown] = {}
    for entry in {entry for line in grid.lines() for entry in line}:
        value = grid.value(entry)
        if 0 < value < THRESHOLD:
            shown[entry] = SMALL
        elif is_hidden(pattern.get(entry)):
            shown[entry] = HIDDEN
        else:
            shown[entry] = value
    return shown


def stats_table(
    session: DbSession, query: StatsQuery, cube: PeriodCube | None = None
) -> StatsTable:
    """The published table: counts with small cells and what would reveal them hidden,
    in the one pattern of its period (`cube`; pass it to share it between tables)."""
    check_query(query)
    cube = cube or period_cube(session, query)
    pattern = _pattern(cube, query)  # first: its finer counts may give the table's own
    groups = stored_groups(session, query) if query.municipality else cube.counts(query.by)
    rows = _axis(session, query, query.by[0], {g[0] for g in groups})
    if len(query.by) == 1:
        grid = Grid(rows.values, [], {(g[0], TOTAL): n for g, n in groups.items()})
        if query.municipality:
            pattern = cube.place_slice(query.municipality, query.by[0], rows.values)
        return StatsTable(query, rows, None, published(grid, pattern))
    columns = _axis(session, query, query.by[1], {g[1] for g in groups})
    grid = Grid(rows.values, columns.values, {(g[0], g[1]): n for g, n in groups.items()})
    return StatsTable(query, rows, columns, published(grid, pattern))


def _pattern(cube: PeriodCube, query: StatsQuery) -> Pattern:
    if query.municipality:
        return {}  # sliced once the district's rows are known
    if len(query.by) == 1:
        return cube.one_way(query.by[0])
    return cube.two_way(*query.by)


def month_trend(
    session: DbSession, first: date, last: date, unit: str, place: str | None
) -> StatsTable:
    """Incidents of each month from `first`'s to `last`'s, each as its month publishes
    it; the months together are no published period, so their sum is not shown (a year's
    table less one month's would be the others')."""
    query = StatsQuery(first, last, ("district", "month"), unit=unit)
    asked = Asked(unit, query.by)
    counts = stored_counts(session).months(first, last, asked, _counter(session))
    rows = _axis(session, replace(query, by=("month",)), "month", set())
    series = month_series(counts, rows.values, place)
    shown: dict[Entry, Shown] = {entry: value for entry, value in series.items()}
    shown[(TOTAL, TOTAL)] = HIDDEN
    return StatsTable(replace(query, by=("month",), municipality=place), rows, None, shown)


def query_from_args(session: DbSession, args: dict[str, Any]) -> StatsQuery:
    """From a loaded `StatsQueryIn`; the municipality may be given by code or by name."""
    place = args.get("municipality")
    return StatsQuery(
        start=args["start"],
        end=args["end"],
        by=tuple(part.strip() for part in args["by"].split(",") if part.strip()),
        unit=args["unit"],
        municipality=resolve_municipality(session, place, "municipality") if place else None,
    )


def table_payload(table: StatsTable) -> dict[str, Any]:
    """The JSON shape of GET /stats (the CSV has the same rows and columns)."""
    query, columns = table.query, table.column_keys()
    payload: dict[str, Any] = {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "by": list(query.by),
        "unit": query.unit,
        "municipality": query.municipality,
        "columns": [{"key": key, "label": table.columns.labels[key]} for key in columns]
        if table.columns
        else [],
        "rows": [
            {
                "key": row,
                "label": table.rows.labels[row],
                "cells": [table.cell(row, column) for column in columns],
                "total": table.cell(row),
            }
            for row in table.rows.values
        ],
        "column_totals": [table.column_total(column) for column in columns],
        "total": table.total,
    }
    return payload
