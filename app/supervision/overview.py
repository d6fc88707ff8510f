"""What the supervisors' pages show, gathered in one call per page: the queues to decide,
who else may decide what the viewer may not (separation of duties), and the audit reports
with names, case numbers and El Salvador times instead of ids, UUIDs and UTC."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from app.audit.models import AuditEvent
from app.auth import accounts, recovery
from app.auth.caller import Caller
from app.cases import access, merge
from app.cases import service as cases
from app.core.db import DbSession
from app.core.time import utcnow
from app.crypto.keyring import KeyRing
from app.retention import service as retention
from app.supervision import breakglass, people, queries
from app.supervision.paging import PER_PAGE, Page
from app.supervision.people import Person
from app.supervision.queries import EventFilters

# The shape of every number Ruta gives (SON-2026-000123); anything else is a typo.
CASE_NUMBER = re.compile(r"^[A-Z0-9]{1,8}-\d{4}-\d{6,}$", re.ASCII)
DEFAULT_DAYS = 30
MAX_DAYS = 366
LISTS = ("events", "night", "per_day", "failed", "non_party")


@dataclass(frozen=True)
class AuditQuery:
    """The audit page's filters and the page asked of each list, as parsed by the view."""

    days: int = DEFAULT_DAYS
    username: str | None = None
    action: str | None = None
    case_number: str | None = None
    day: date | None = None
    out_of_hours: bool = False
    pages: dict[str, int] = field(default_factory=dict)


def normalised_number(text: str | None) -> str | None:
    cleaned = "".join((text or "").split()).upper()
    return cleaned or None


def _case_filter(session: DbSession, number: str | None) -> tuple[uuid.UUID | None, str | None]:
    """The case id behind the number typed, or why there is none ("malformed", "unknown")."""
    if number is None:
        return None, None
    if not CASE_NUMBER.match(number):
        return None, "malformed"
    case_id = access.case_id_by_number(session, number)
    return case_id, None if case_id else "unknown"


class _Reviewers:
    """Who else may decide an item the viewer may not: the other supervisors, less anyone
    the item concerns (who asked for it, whom it is about)."""

    def __init__(self, session: DbSession, caller: Caller) -> None:
        self.viewer = caller.id
        self.fellows = people.fellow_supervisors(session, caller.user)
        self.blocked: dict[str, list[Person]] = {}

    def check(self, key: str, *concerned: int | None) -> None:
        if self.viewer in concerned:
            self.blocked[key] = [p for p in self.fellows if p.id not in concerned]


def _queues(session: DbSession, ring: KeyRing, caller: Caller) -> dict[str, Any]:
    queue = breakglass.pending_reviews(session, caller.user)
    waiting = accounts.pending_accounts(session, caller)
    recoveries = recovery.pending_recoveries(session, caller)
    merges = merge.merge_list(session, caller)
    reviewers = _Reviewers(session, caller)
    for grant in queue:
        reviewers.check(f"grant-{grant.id}", grant.user_id)
    for item in merges:
        if item["status"] == "pending":
            reviewers.check(f"merge-{item['id']}", item["requested_by_user_id"])
    for user in waiting:
        reviewers.check(f"account-{user.id}", user.id, user.requested_by_user_id)
    for asked in recoveries:
        reviewers.check(f"recovery-{asked.id}", asked.user_id, asked.requested_by_user_id)
    return {
        "queue": queue,
        "reasons": breakglass.open_reasons(session, ring, caller.user, queue),
        "waiting": waiting,
        "recoveries": recoveries,
        "joins": cases.pending_joins(session, caller),
        "merges": merges,
        "reviewers": reviewers.blocked,
        "grant_numbers": access.case_numbers(session, {g.case_id for g in queue}),
        "requesters": {u.requested_by_user_id for u in waiting}
        | {r.requested_by_user_id for r in recoveries}
        | {m["requested_by_user_id"] for m in merges}
        | {g.user_id for g in queue},
    }


def _reports(
    session: DbSession, caller: Caller, query: AuditQuery, since: datetime
) -> dict[str, Any]:
    user, page = caller.user, query.pages.get
    case_id, case_error = _case_filter(session, query.case_number)
    events = None
    if case_error is None:
        filters = EventFilters(
            since=since,
            username=query.username,
            action=query.action,
            case_id=case_id,
            day=query.day,
            out_of_hours=query.out_of_hours,
        )
        events = queries.event_page(session, user, filters, page("events", 1))
    return {
        "events": events,
        "case_error": case_error,
        "night": queries.out_of_hours_groups(session, user, since, page("night", 1)),
        "per_day": queries.reads_per_user_day_page(session, user, since, page("per_day", 1)),
        "failed": queries.failed_logins_page(session, user, since, page("failed", 1)),
        "non_party": queries.non_party_reads_page(session, user, since, page("non_party", 1)),
    }


def _shown_events(reports: dict[str, Any]) -> list[AuditEvent]:
    events = reports["events"].items if reports["events"] else []
    return [*events, *reports["non_party"].items]


def audit_overview(
    session: DbSession, ring: KeyRing, caller: Caller, query: AuditQuery
) -> dict[str, Any]:
    """Everything /audit shows. The names, institutions and case numbers of the rows come
    with them, so that no row shows a bare id."""
    since = utcnow() - timedelta(days=query.days)
    queues = _queues(session, ring, caller)
    reports = _reports(session, caller, query, since)
    shown = _shown_events(reports)
    user_ids = {e.user_id for e in shown} | queues.pop("requesters")
    user_ids |= {g.user_id for g in reports["night"].items}
    user_ids |= {row["user_id"] for row in reports["per_day"].items}
    codes = {e.institution for e in shown} | {g.institution for g in reports["night"].items}
    codes |= {row["institution"] for row in reports["per_day"].items}
    return {
        "since": since,
        **queues,
        **reports,
        "people": people.people(session, user_ids),
        "institutions": people.institution_names(session, codes),
        "case_numbers": access.case_numbers(session, {e.case_id for e in shown if e.case_id})
        | queues["grant_numbers"],
    }


def _case_page(cases: list[Any], at: str, number: int, total: int) -> Page[dict[str, Any]]:
    rows = [{"case_id": str(c.id), "number": c.number, "at": getattr(c, at)} for c in cases]
    return Page(rows, number, total)


def _last_page(number: int, total: int) -> int:
    return max(1, min(number, -(-total // PER_PAGE)))


def retention_overview(
    session: DbSession, caller: Caller, pages: dict[str, int] | None = None
) -> dict[str, Any]:
    """/audit/retention: erasures to decide (and who else may, when the viewer asked for
    one), and the held and purged records, 50 a page (the purged ones add up over years)."""
    erasures = retention.erasure_list(session, caller)
    reviewers = _Reviewers(session, caller)
    for item in erasures:
        if item["status"] == "pending":
            reviewers.check(f"erasure-{item['id']}", item["requested_by_user_id"])
    held_total, purged_total = access.count_held_and_purged(session)
    held_page = _last_page((pages or {}).get("held", 1), held_total)
    purged_page = _last_page((pages or {}).get("purged", 1), purged_total)
    per_page = PER_PAGE
    held = access.held_cases(session, per_page, (held_page - 1) * per_page)
    purged = access.purged_cases(session, per_page, (purged_page - 1) * per_page)
    return {
        "erasures": erasures,
        "held": _case_page(held, "legal_hold_at", held_page, held_total),
        "purged": _case_page(purged, "purged_at", purged_page, purged_total),
        "reviewers": reviewers.blocked,
    }
