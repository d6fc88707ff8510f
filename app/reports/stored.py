"""The observatory's counts, kept between requests and refreshed as cases change.

Every published count is a query over one month, or one year (`cube.period_kind`).
Its unsuppressed counts are stored (`stat_counts`) with the generations of the months
they were counted at. Database triggers (migration 0029) note each month a write may
have changed, in the writer's own transaction; the next count turns those notes into
new generations, and a stored count whose months have moved on is counted again, from
the incidents, for that period alone. So a count is never stale, and a month that did
not change costs one small read whatever the size of the record.

A year is the sum of its months wherever that is exact: counts of incidents (an
incident lies in one month), and any count by month. Counts of cases or of women by
anything else are distinct over the whole year: its months' counts less those each
month counts again (found among the year's few repeats, kept by month), stored for the
year.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import delete, event, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, SessionTransaction

from app.core.db import DbSession
from app.core.time import utcnow
from app.reports.cube import Counts, month_end, period_kind
from app.reports.models import IndicatorChange, IndicatorMonth, StatChange, StatCount, StatMonth


@dataclass(frozen=True)
class Asked:
    """What is counted: the unit, the dimensions and the district (or the whole map)."""

    unit: str
    by: tuple[str, ...]
    place: str | None = None

    @property
    def name(self) -> str:
        return f"{self.unit}|{','.join(self.by)}|{self.place or ''}"

    @property
    def additive(self) -> bool:
        """Whether a year's counts are its months' counts added up."""
        return self.unit == "incidents" or "month" in self.by


# Counts of one period from the incidents, for each of several questions.
Count = Callable[[date, date, list[Asked]], dict[Asked, Counts]]


# For a year (start, end), from a month (since) on: each month's cases or women that an
# earlier month of the year counted in the same group, by month code.
Returns = Callable[[date, date, date, list[Asked]], dict[Asked, dict[str, Counts]]]


@dataclass(frozen=True)
class Counting:
    """How counts are made from the incidents: `groups` counts a period; `returns`, for
    a year's cases or women, those its months count again (`Returns`)."""

    groups: Count
    returns: Returns


def month_code(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_of(start: date, end: date) -> list[date]:
    """The first day of each month from `start`'s to `end`'s."""
    months, day = [], start.replace(day=1)
    while day <= end:
        months.append(day)
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return months


def _upsert(
    session: DbSession, model: type, rows: list[dict[str, Any]], key: str, changes: dict[str, Any]
) -> None:
    insert: Any = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(model).values(rows).on_conflict_do_update(index_elements=[key], set_=changes)
    )


@dataclass(frozen=True)
class Ledger:
    """Where triggers note the months a write may have changed, and where those months'
    generations are kept: one for the counts (months of incidents), one for the
    indicators (months of referrals, follow-ups, breaches and rapes recorded)."""

    name: str
    changes: Any  # a model with `id` and `month`
    months: Any  # a model with `month` and `generation`


COUNTS = Ledger("counts", StatChange, StatMonth)
INDICATORS = Ledger("indicators", IndicatorChange, IndicatorMonth)


def take_changes(session: DbSession, ledger: Ledger = COUNTS) -> None:
    """Turn the months the triggers noted into new generations. A note is removed in
    the same statement that reads it, so one written meanwhile waits for the next count.
    On PostgreSQL notes another request is taking are left to it (SKIP LOCKED): stats
    requests never queue behind one another; until that one commits, this one answers
    as it would have a moment earlier."""
    changes, generations = ledger.changes, ledger.months
    notes = delete(changes)
    if session.get_bind().dialect.name == "postgresql":
        free = select(changes.id).with_for_update(skip_locked=True).scalar_subquery()
        notes = notes.where(changes.id.in_(free))
    months = sorted(set(session.execute(notes.returning(changes.month)).scalars()))
    if not months:
        return
    rows = [{"month": month, "generation": 1} for month in months]
    _upsert(session, generations, rows, "month", {"generation": generations.generation + 1})


STORED = "ruta.stored."


def stored_counts(session: DbSession, ledger: Ledger = COUNTS) -> StoredCounts:
    """The transaction's view of the stored counts: every table of a request reads the
    same generations, and the notes are taken once. A write made later in the same
    transaction shows from the next one on."""
    name = STORED + ledger.name
    if name not in session.info:
        session.info[name] = StoredCounts(session, ledger)
    return cast(StoredCounts, session.info[name])


@event.listens_for(Session, "after_transaction_end")
def _forget_view(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost: the next transaction looks again
        for name in [name for name in session.info if str(name).startswith(STORED)]:
            del session.info[name]


class StoredCounts:
    """One transaction's view of the stored counts (`stored_counts`): notes taken once,
    generations read once."""

    def __init__(self, session: DbSession, ledger: Ledger = COUNTS) -> None:
        self.session = session
        self.ledger = ledger
        self._generations: dict[str, int] | None = None
        take_changes(session, ledger)

    def generations(self, months: list[date]) -> str:
        return self.generations_of([month_code(first) for first in months])

    def generations_of(self, codes: list[str]) -> str:
        """The generations of these months (YYYY-MM, or a ledger's own pseudo-month)."""
        if self._generations is None:
            months_table = self.ledger.months
            rows = self.session.execute(select(months_table.month, months_table.generation))
            self._generations = {month: generation for month, generation in rows}
        return ".".join(str(self._generations.get(code, 0)) for code in codes)

    def counts(self, start: date, end: date, asked: Asked, counting: Counting) -> Counts:
        """The counts of the whole month or year `start`–`end`, stored or counted now."""
        return self.counts_together(start, end, [asked], counting)[asked]

    def counts_together(
        self, start: date, end: date, asked: list[Asked], counting: Counting
    ) -> dict[Asked, Counts]:
        """Several counts of one period: those to be counted again are counted together,
        so that `counting` may read the incidents once for all of them."""
        kind = period_kind(start, end)
        if kind == "month":
            return self._stored(start, end, asked, counting)
        if kind != "year":
            raise ValueError("counts are stored for a whole month or a whole year")
        return self._year(start, end, asked, counting)

    def months(self, start: date, end: date, asked: Asked, counting: Counting) -> Counts:
        """The sum of the months' counts from `start`'s month to `end`'s: exact only
        where `asked.additive`, or where the months are told apart (by month)."""
        return self._summed(start, end, [asked], counting)[asked]

    def _summed(
        self, start: date, end: date, asked: list[Asked], counting: Counting
    ) -> dict[Asked, Counts]:
        if not asked:
            return {}
        months = [
            self._stored(first, month_end(first), asked, counting)
            for first in months_of(start, end)
        ]
        return {one: added(in_month[one] for in_month in months) for one in asked}

    def _year(
        self, start: date, end: date, asked: list[Asked], counting: Counting
    ) -> dict[Asked, Counts]:
        """A year's counts from its months' (only a month written to is counted again,
        once for all of `asked`). Cases or women by anything but month are distinct
        over the year: stored for it, and when stale its months' counts less those
        each month counts again (`_returns`)."""
        distinct = {f"{start.year}|{one.name}": one for one in asked if not one.additive}
        stamps = dict.fromkeys(distinct, self.generations(months_of(start, end)))
        found = self._found(stamps)
        stale = {key: one for key, one in distinct.items() if key not in found}
        additive = [one for one in asked if one.additive]
        summed = self._summed(start, end, [*additive, *stale.values()], counting)
        counts = {one: summed[one] for one in additive}
        if stale:
            returns = self._returns(start, end, stale, counting)
            made = {key: less(summed[one], returns[one]) for key, one in stale.items()}
            self._store({key: encode(n) for key, n in made.items()}, stamps)
            counts |= {stale[key]: n for key, n in made.items()}
        return counts | {distinct[key]: decode(kept) for key, kept in found.items()}

    def _returns(
        self, start: date, end: date, stale: dict[str, Asked], counting: Counting
    ) -> dict[Asked, Counts]:
        """The cases or women the year's months count again, summed over its months.
        Kept by month: a month's are counted again only when it or an earlier month of
        the year has changed, so a write to this month reads only the repeats seen in
        it or later, and a write to last year nothing of this one."""
        months = months_of(start, end)
        stamp = self.generations(months).split(".")
        keys = {f"{key}|returns": one for key, one in stale.items()}
        kept = self._kept(list(keys))
        unchanged = min((_same_months(kept[key][0], stamp) if key in kept else 0) for key in keys)
        if unchanged < len(months):
            fresh = counting.returns(start, end, months[unchanged], list(keys.values()))
        codes = [month_code(first) for first in months]
        totals: dict[Asked, Counts] = {}
        made: dict[str, str] = {}
        for key, one in keys.items():
            earlier = json.loads(kept[key][1]) if key in kept else {}
            by_month = {code: earlier[code] for code in codes[:unchanged] if code in earlier}
            if unchanged < len(months):
                by_month |= {code: encode(counts) for code, counts in fresh[one].items()}
            made[key] = json.dumps(by_month, separators=(",", ":"))
            totals[one] = added(decode(text) for text in by_month.values())
        self._store(made, dict.fromkeys(made, ".".join(stamp)))
        return totals

    def _kept(self, keys: list[str]) -> dict[str, tuple[str, str]]:
        """What is stored under `keys`, whatever it was counted at: (generations, counts)."""
        rows = self.session.execute(
            select(StatCount.key, StatCount.generations, StatCount.counts).where(
                StatCount.key.in_(keys)
            )
        )
        return {key: (made_at, kept) for key, made_at, kept in rows}

    def _stored(
        self, start: date, end: date, asked: list[Asked], counting: Counting
    ) -> dict[Asked, Counts]:
        """A month's counts: stored, or counted now together and stored."""
        keys = {f"{month_code(start)}|{one.name}": one for one in asked}

        def count_missing(missing: list[str]) -> dict[str, str]:
            counted = counting.groups(start, end, [keys[key] for key in missing])
            return {key: encode(counted[keys[key]]) for key in missing}

        stamp = self.generations([start])
        texts = self.texts({key: stamp for key in keys}, count_missing)
        return {keys[key]: decode(kept) for key, kept in texts.items()}

    def texts(
        self, stamps: dict[str, str], make: Callable[[list[str]], dict[str, str]]
    ) -> dict[str, str]:
        """What is stored under each key of `stamps` if it was made at that stamp (the
        generations it was counted at); the rest made now by `make`, from the missing
        keys, and stored with their stamps."""
        found = self._found(stamps)
        missing = [key for key in stamps if key not in found]
        if missing:
            made = make(missing)
            self._store(made, stamps)
            found |= made
        return found

    def _found(self, stamps: dict[str, str]) -> dict[str, str]:
        """What is stored under each key of `stamps` and was made at its stamp."""
        kept = self._kept(list(stamps)) if stamps else {}
        return {key: text for key, (made_at, text) in kept.items() if made_at == stamps[key]}

    def _store(self, made: dict[str, str], stamps: dict[str, str]) -> None:
        now = utcnow()
        rows = [
            {"key": key, "generations": stamps[key], "counts": kept, "counted_at": now}
            for key, kept in made.items()
        ]
        _upsert_counts(self.session, rows)


# PostgreSQL: a request stores a count only if no other is storing it at that moment, so
# two requests never wait on each other's rows (nor deadlock); the other one's is as good.
CLAIM_KEYS = text(
    "SELECT key FROM unnest(CAST(:keys AS text[])) AS key "
    "WHERE pg_try_advisory_xact_lock(1381258272, hashtext(current_schema() || '.' || key))"
)


def _upsert_counts(session: DbSession, rows: list[dict[str, Any]]) -> None:
    rows = sorted(rows, key=lambda row: row["key"])
    insert: Any = sqlite_insert
    if session.get_bind().dialect.name == "postgresql":
        insert = pg_insert
        claimed = set(session.execute(CLAIM_KEYS, {"keys": [row["key"] for row in rows]}).scalars())
        rows = [row for row in rows if row["key"] in claimed]
        if not rows:
            return
    stmt = insert(StatCount).values(rows)
    changes = {name: stmt.excluded[name] for name in ("generations", "counts", "counted_at")}
    session.execute(stmt.on_conflict_do_update(index_elements=["key"], set_=changes))


def _same_months(made_at: str, now: list[str]) -> int:
    """How many of the year's first months are at the generations they were at."""
    then = made_at.split(".")
    same = 0
    while same < len(now) and same < len(then) and then[same] == now[same]:
        same += 1
    return same


def added(all_counts: Iterable[Counts]) -> Counts:
    total: Counts = {}
    for counts in all_counts:
        for group, n in counts.items():
            total[group] = total.get(group, 0) + n
    return total


def less(counts: Counts, again: Counts) -> Counts:
    """`counts` less `again`, group by group. Each one counted again was counted a first
    time, so no group falls to 0, unless a write committed between the months' counts
    and these (PostgreSQL reads each statement afresh); its note has the year counted
    again at the next request, so an emptied group is left out meanwhile."""
    left = {group: n - again.get(group, 0) for group, n in counts.items()}
    return {group: n for group, n in left.items() if n > 0}


def encode(counts: Counts) -> str:
    return json.dumps([[*group, n] for group, n in counts.items()], separators=(",", ":"))


def decode(text: str) -> Counts:
    return {tuple(row[:-1]): row[-1] for row in json.loads(text)}
