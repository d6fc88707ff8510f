"""The referral inbox and outbox: a page of the institution's referrals, the count of
every filter value, and each row shown as far as the caller may read it.

Every row carries codes, dates and the institutions' names (the directory). Beyond
that a row shows what `referrals.policy` lets this side read of the referral (the
reason, the decline reason, the counter-referral), and her name and the case's risk
only where the caller's institution sees her whole record (`full`), as the work list
does. A former party — declined, cancelled, consent revoked — gets codes and dates.
Every row that shows decrypted data is audited (`referral_view`) before the page goes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from app.audit.service import audit
from app.auth.caller import Caller
from app.cases import access as case_access
from app.cases import policy as case_policy
from app.cases.present import WITHHELD, iso
from app.core.db import DbSession
from app.core.errors import Forbidden
from app.core.time import local_today
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for
from app.referrals.access import answers_for_institution, sides_of
from app.referrals.contact import contact_for_reader, shown_parts
from app.referrals.models import Referral
from app.referrals.policy import referral_text_visible
from app.referrals.present import referral_record
from app.referrals.service import LIVE, URGENCY_DAYS, inbox_counts, overdue_clause

PAGE_SIZE = 50
BOXES = ("incoming", "outgoing")
STATUSES = ("sent", "accepted", "in_progress", "completed", "declined", "cancelled")
URGENCIES = tuple(URGENCY_DAYS)


@dataclass(frozen=True)
class InboxQuery:
    """What the list is narrowed to; None/False: not narrowed."""

    box: str = "incoming"
    status: str | None = None
    urgency: str | None = None
    overdue: bool = False
    page: int = 1


@dataclass(frozen=True)
class Inbox:
    query: InboxQuery
    items: list[dict[str, Any]]
    # {"box": {"incoming": n, …}, "status": {…}, "urgency": {…}, "overdue": {"overdue": n}}:
    # what the list would hold with that value chosen and the other filters as they are.
    facets: dict[str, dict[str, int]]
    next_page: int | None
    counts: dict[str, int]  # `service.inbox_counts`: what needs action, both boxes


def _filters(institution_id: int, today: date) -> dict[str, dict[str, Any]]:
    return {
        "box": {
            "incoming": Referral.to_institution_id == institution_id,
            "outgoing": Referral.from_institution_id == institution_id,
        },
        "status": {status: Referral.status == status for status in STATUSES},
        "urgency": {urgency: Referral.urgency == urgency for urgency in URGENCIES},
        "overdue": {"overdue": overdue_clause(today)},
    }


def _chosen(query: InboxQuery) -> dict[str, str | None]:
    overdue = "overdue" if query.overdue else None
    return {"box": query.box, "status": query.status, "urgency": query.urgency, "overdue": overdue}


def _facets(
    session: DbSession, institution_id: int, query: InboxQuery, today: date
) -> dict[str, dict[str, int]]:
    """Every filter value's count in one statement: each facet with the others applied."""
    filters, chosen = _filters(institution_id, today), _chosen(query)
    keys, columns = [], []
    for facet, values in filters.items():
        others = [
            filters[other][value]
            for other, value in chosen.items()
            if other != facet and value is not None
        ]
        for value, clause in values.items():
            keys.append((facet, value))
            columns.append(func.count().filter(and_(clause, *others)))
    mine = or_(*filters["box"].values())
    row = session.execute(select(*columns).where(mine)).one()
    facets: dict[str, dict[str, int]] = {facet: {} for facet in filters}
    for (facet, value), count in zip(keys, row, strict=True):
        facets[facet][value] = int(count)
    return facets


def _page(
    session: DbSession, institution_id: int, query: InboxQuery, today: date
) -> list[Referral]:
    """Live referrals first, soonest due first; then the closed ones, latest first."""
    filters = _filters(institution_id, today)
    clauses = [filters[facet][value] for facet, value in _chosen(query).items() if value]
    live = Referral.status.in_(LIVE)
    stmt = (
        select(Referral)
        .where(*clauses)
        .order_by(
            case((live, 0), else_=1),
            case((live, Referral.due_on), else_=None),
            Referral.updated_at.desc(),
            Referral.id,
        )
        .offset((query.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)  # one more tells whether there is a next page
    )
    return list(session.execute(stmt).scalars())


def inbox(session: DbSession, ring: KeyRing, caller: Caller, query: InboxQuery) -> Inbox:
    """One page of the box with the counts of every filter, audited row by row. A
    supervisor standing in for an institution without case workers sees what it receives."""
    standing_in = query.box == "incoming" and answers_for_institution(session, caller)
    if not (case_access.works_on_cases(caller) or standing_in):
        raise Forbidden("this role does not work on referrals")
    today = local_today()
    rows = _page(session, caller.institution_id, query, today)
    next_page = query.page + 1 if len(rows) > PAGE_SIZE else None
    rows = rows[:PAGE_SIZE]
    cases = case_access.cases_behind_referrals(session, caller, {row.case_id for row in rows})
    numbers = case_access.case_numbers(session, {row.case_id for row in rows} - set(cases))
    items = [_item(ring, caller, row, cases.get(row.case_id), numbers, today) for row in rows]
    _audit_shown(session, ring, caller, rows, items)
    facets = _facets(session, caller.institution_id, query, today)
    return Inbox(query, items, facets, next_page, inbox_counts(session, caller))


def _reads_text(caller: Caller, referral: Referral, behind: case_access.ReferralCase) -> bool:
    is_sender = referral.from_institution_id == caller.institution_id
    return referral_text_visible(
        is_sender=is_sender,
        sender_is_party=is_sender and behind.view is not None,
        is_receiver=referral.to_institution_id == caller.institution_id,
        status=referral.status,
        consent_in_force=behind.case.consent_network,
        mandatory_report=referral.mandatory_report,
        receiver_excluded=behind.excluded,
    )


def _item(
    ring: KeyRing,
    caller: Caller,
    referral: Referral,
    behind: case_access.ReferralCase | None,
    numbers: dict[uuid.UUID, str],
    today: date,
) -> dict[str, Any]:
    reads = behind is not None and _reads_text(caller, referral, behind)
    full = behind is not None and behind.view == case_policy.FULL
    cipher = cipher_for(ring, behind.case.data_key) if behind and (reads or full) else WITHHELD
    item = referral_record(cipher if reads else WITHHELD, referral)
    sides = _sides(caller, referral)
    item.update(contact_for_reader(cipher, behind, reads, sides))
    item.update(
        case_number=behind.case.number if behind else numbers.get(referral.case_id, ""),
        overdue=referral.status in LIVE and referral.due_on < today,
        text_withheld=not reads,
        survivor_name=_name(cipher, behind) if behind and full else None,
        risk_level=behind.case.risk_level if behind and full else None,
        sides=sorted(sides),
        party=behind is not None and behind.view is not None,  # may open the case page
        updated_at=iso(referral.updated_at),
    )
    return item


def _sides(caller: Caller, referral: Referral) -> frozenset[str]:
    return sides_of(caller.institution_id, referral)


def _name(cipher: Any, behind: case_access.ReferralCase) -> str:
    survivor = behind.case.survivor
    parts = (
        cipher.open_text("survivors", survivor.id, field, getattr(survivor, f"{field}_enc"))
        for field in ("given_names", "family_names")
    )
    return " ".join(part for part in parts if part)


def _audit_shown(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    rows: list[Referral],
    items: list[dict[str, Any]],
) -> None:
    """A `referral_view` for each row that shows her name or the referral's text, on
    the record before the page is answered; rows of codes and dates need none."""
    for referral, item in zip(rows, items, strict=True):
        marks = (("text", not item["text_withheld"]), ("name", item["survivor_name"] is not None))
        shown = [part for part, there in marks if there] + shown_parts(item)
        if not shown:
            continue
        audit(
            session,
            ring.audit_key,
            caller,
            "referral_view",
            object_type="referral",
            object_id=referral.id,
            case_id=referral.case_id,
            detail=f"inbox:{'+'.join(shown)}",
        )
