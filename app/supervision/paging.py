"""Lists that grow, 50 rows a page, with the count of all rows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import func, select

from app.core.db import DbSession

PER_PAGE = 50
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list that can grow: its rows, which page, and how many in all."""

    items: list[T]
    number: int
    total: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first_row(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_row(self) -> int:
        return min(self.number * self.per_page, self.total)


def page_number(raw: object) -> int:
    """A page number from a query string: anything odd is the first page."""
    text = str(raw or "")
    return int(text) if text.isdigit() and 0 < int(text) < 100_000 else 1


def paged(session: DbSession, stmt: Any, number: int) -> tuple[list[Any], int, int]:
    """Rows of page `number` (moved back to the last page when past it) and the total."""
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    number = min(number, max(1, math.ceil(total / PER_PAGE)))
    rows = session.execute(stmt.limit(PER_PAGE).offset((number - 1) * PER_PAGE)).all()
    return list(rows), number, total
