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
anything else are distinct over the whole year and are stored for the year.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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

    def counts(self, start: date, end: date, asked: Asked, count: Count) -> Counts:
        """The counts of the whole month or year `start`–`end`, stored or counted now
        by `count`."""
        return self.counts_together(start, end, [asked], count)[asked]

    def counts_together(
        self, start: date, end: date, asked: list[Asked], count: Count
    ) -> dict[Asked, Counts]:
        """Several counts of one period: those to be counted again are counted together,
        so that `count` may read the incidents once for all of them."""
        kind = period_kind(start, end)
        if kind == "month":
            return self._stored(month_code(start), [start], start, end, asked, count)
        if kind != "year":
            raise ValueError("counts are stored for a whole month or a whole year")
        summed = [one for one in asked if one.additive]
        found = self._summed(start, end, summed, count) if summed else {}
        rest = [one for one in asked if not one.additive]
        if rest:
            found |= self._stored(str(start.year), months_of(start, end), start, end, rest, count)
        return found

    def months(self, start: date, end: date, asked: Asked, count: Count) -> Counts:
        """The sum of the months' counts from `start`'s month to `end`'s: exact only
        where `asked.additive`, or where the months are told apart (by month)."""
        return self._summed(start, end, [asked], count)[asked]

    def _summed(
        self, start: date, end: date, asked: list[Asked], count: Count
    ) -> dict[Asked, Counts]:
        totals: dict[Asked, Counts] = {one: {} for one in asked}
        for first in months_of(start, end):
            for one, counts in self.counts_together(first, month_end(first), asked, count).items():
                total = totals[one]
                for group, n in counts.items():
                    total[group] = total.get(group, 0) + n
        return totals

    def _stored(
        self,
        period: str,
        months: list[date],
        start: date,
        end: date,
        asked: list[Asked],
        count: Count,
    ) -> dict[Asked, Counts]:
        keys = {f"{period}|{one.name}": one for one in asked}

        def count_missing(missing: list[str]) -> dict[str, str]:
            counted = count(start, end, [keys[key] for key in missing])
            return {key: encode(counted[keys[key]]) for key in missing}

        generations = self.generations(months)
        texts = self.texts({key: generations for key in keys}, count_missing)
        return {keys[key]: decode(kept) for key, kept in texts.items()}

    def texts(
        self, stamps: dict[str, str], make: Callable[[list[str]], dict[str, str]]
    ) -> dict[str, str]:
        """What is stored under each key of `stamps` if it was made at that stamp (the
        generations it was counted at); the rest made now by `make`, from the missing
        keys, and stored with their stamps."""
        rows = self.session.execute(
            select(StatCount.key, StatCount.generations, StatCount.counts).where(
                StatCount.key.in_(stamps)
            )
        )
        found = {key: kept for key, made_at, kept in rows if made_at == stamps[key]}
        missing = [key for key in stamps if key not in found]
        if missing:
            made = make(missing)
            now = utcnow()
            _upsert_counts(
                self.session,
                [
                    {"key": key, "generations": stamps[key], "counts": kept, "counted_at": now}
                    for key, kept in made.items()
                ],
            )
            found |= made
        return found


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


def encode(counts: Counts) -> str:
    return json.dumps([[*group, n] for group, n in counts.items()], separators=(",", ":"))


def decode(text: str) -> Counts:
    return {tuple(row[:-1]): row[-1] for row in json.loads(text)}
