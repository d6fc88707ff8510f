"""Comparing a shipped copy of the audit log with the database (docs/audit.md).

Threat: someone with the database owner's rights deletes or edits events after they
were shipped, and rebuilds the chain around the gap (which takes the audit key) or
restores an older dump. The copy on the log host still has them: every shipped event
must be in the database with the same fields, HMAC and link.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, select

from app.audit.models import AuditEvent, AuditLink
from app.audit.ship import shipped_fields
from app.core.db import DbSession

CHUNK = 500  # ids per query
_EVENTS = cast(Table, AuditEvent.__table__)


@dataclass
class Comparison:
    compared: int = 0
    missing: list[int] = field(default_factory=list)
    different: dict[int, list[str]] = field(default_factory=dict)
    unreadable: list[int] = field(default_factory=list)  # line numbers

    @property
    def ok(self) -> bool:
        return not (self.missing or self.different or self.unreadable)


def _event_of(text: str) -> dict[str, Any] | None:
    """The JSON of one line; a syslog file may put its own prefix before the first `{`."""
    start = text.find("{")
    try:
        data = json.loads(text[start:]) if start >= 0 else None
    except ValueError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("id"), int) else None


def shipped_events(lines: Iterable[str], report: Comparison) -> dict[int, dict[str, Any]]:
    """The first line of each id (receivers may hold an event twice, resent)."""
    events: dict[int, dict[str, Any]] = {}
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        event = _event_of(text)
        if event is None:
            report.unreadable.append(number)
        else:
            events.setdefault(event["id"], event)
    return events


def _stored(session: DbSession, ids: list[int]) -> dict[int, dict[str, Any]]:
    stmt = (
        select(AuditLink.seq, AuditLink.hmac.label("link"), _EVENTS)
        .outerjoin(AuditLink, AuditLink.event_id == _EVENTS.c.id)
        .where(_EVENTS.c.id.in_(ids))
    )
    return {row.id: shipped_fields(row) for row in session.execute(stmt)}


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def compare_shipped(session: DbSession, path: Path) -> Comparison:
    """Every event of the shipped JSON lines at `path` against the database."""
    report = Comparison()
    shipped = shipped_events(path.read_text(errors="replace").splitlines(), report)
    for ids in _chunks(sorted(shipped)):
        stored = _stored(session, ids)
        for event_id in ids:
            report.compared += 1
            if event_id not in stored:
                report.missing.append(event_id)
                continue
            fields = stored[event_id]
            changed = [name for name in fields if shipped[event_id].get(name) != fields[name]]
            if changed:
                report.different[event_id] = changed
    return report
