"""The catalogue as the forms and labels read it, kept a minute per database.

Districts, institutions, services and measure types change seldom (an administrator's
edit, `catalogue load`), and the case page asked for six lists of them on every view.
A change made through the directory's services is seen at once in this process (they
call `forget`), one made elsewhere within the minute; every service still checks what a
form sends against the database.
"""

from __future__ import annotations

import copy
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from app.core.db import DbSession

T = TypeVar("T")
SECONDS = 60.0


class CatalogueCache:
    def __init__(self, seconds: float = SECONDS) -> None:
        self.seconds = seconds
        self._kept: weakref.WeakKeyDictionary[Any, dict[str, tuple[float, Any]]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, session: DbSession, name: str, build: Callable[[], T]) -> T:
        """`build()`'s value for this database, made at most once a minute; a copy, so
        that a caller who changes it changes nobody else's."""
        kept = self._kept.setdefault(session.get_bind(), {})
        found = kept.get(name)
        now = time.monotonic()
        if found is None or found[0] <= now:
            found = kept[name] = (now + self.seconds, build())
        return copy.copy(found[1])

    def forget(self) -> None:
        self._kept.clear()


CATALOGUE = CatalogueCache()
