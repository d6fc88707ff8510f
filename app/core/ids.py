"""Record identifiers: random UUIDs, and parsing one from a URL without a 500."""

from __future__ import annotations

import uuid
from typing import Any

from werkzeug.routing import IntegerConverter, Map

# Integer ids are PostgreSQL `integer` columns: a number outside this range is no row,
# but handed to the database it is an error (SQLite overflows past 2**63 - 1).
MIN_ID = 1
MAX_ID = 2**31 - 1


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


def is_db_id(value: object) -> bool:
    """An int (not a bool) that an integer id column can hold."""
    return type(value) is int and MIN_ID <= value <= MAX_ID


def _digits_up_to(limit: int) -> str:
    """A regex of the numbers 1…limit written without leading zeros: shorter numbers,
    then for each digit of `limit` a smaller digit there and anything after it."""
    top = str(limit)
    parts = [rf"[1-9]\d{{0,{len(top) - 2}}}"] if len(top) > 1 else []
    for at, digit in enumerate(top):
        low = 1 if at == 0 else 0
        if int(digit) > low:
            rest = len(top) - at - 1
            parts.append(
                top[:at] + f"[{low}-{int(digit) - 1}]" + (rf"\d{{{rest}}}" if rest else "")
            )
    return "(?:" + "|".join([*parts, top]) + ")"


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: only ids a column can hold match. The range is in the
    regex, not only in `to_python`: a number that fails there would make Werkzeug answer
    405 when another method has the same path; unmatched, it is the plain 404."""

    regex = _digits_up_to(MAX_ID)

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", MIN_ID)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def use_id_converter(url_map: Map) -> None:
    """Before any route is added: `int` then means an id of the database's range."""
    url_map.converters["int"] = IdConverter
