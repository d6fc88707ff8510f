"""Finding cases: exact search through the blind indexes, and the caller's work list.

Both see only the cases the caller's institution may see: the visibility clause is in
the WHERE of every query, so a case of another institution is never even loaded. The
identifiers searched for come from request bodies; nothing here touches a URL or a log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext

from app.audit.service import audit
from app.auth.caller import Caller
from app.auth.throttle_store import charge_read
from app.cases import access, name_search, policy
from app.cases.models import Case
from app.cases.name_search import Candidate, CaseRef
from app.cases.service import (
    open_survivor,
    require_case_role,
    resolve_municipality,
    same_name_and_birth,
)
from app.cases.validators import normalise_dui
from app.core.db import DbSession
from app.core.errors import InvalidInput
from app.core.i18n import N_
from app.core.time import local_today, utcnow
from app.crypto.blind_index import blind_indexes, name_dob_key
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for

PAGE_SIZE = 50
GIVE_ONE_KIND = N_(
    "Indique el DUI, el nombre completo con la fecha de nacimiento, el número de expediente, "
    "el teléfono o parte del nombre."
)


def search_cases(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    *,
    dui: str | None = None,
    name: str | None = None,
    birth_date: date | None = None,
    number: str | None = None,
    phone: str | None = None,
    name_like: str | None = None,
    birth_year: int | None = None,
) -> list[Candidate]:
    """Among the cases the caller may see: exact matches by DUI, name and birth date or
    number (oldest first; an absorbed record's number finds the one that absorbed it), or
    candidates by phone or by a partial name, ranked (`name_search`). Audited with the
    number of results only, never what was searched for. Counts against the hourly
    read cap: a search shows who matches."""
    require_case_role(caller)
    charge_read(caller.id, "search")
    if name_like:
        found = name_search.by_name(session, ring, caller, name_like, birth_year)
    elif phone:
        found = name_search.by_phone(session, ring, caller, phone)
    else:
        found = [
            Candidate(CaseRef.of(case), "", 1.0)
            for case in _exact(session, ring, caller, dui, name, birth_date, number)
        ]
    audit(
        session,
        ring.audit_key,
        caller,
        "case_search",
        object_type="case",
        detail=f"results={len(found)}",
    )
    return found


def _exact(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    dui: str | None,
    name: str | None,
    birth_date: date | None,
    number: str | None,
) -> list[Case]:
    if number:
        return access.visible_by_number(session, caller, number.strip().upper())
    column, value = _index_lookup(ring, dui, name, birth_date)
    cases = access.visible_by_survivor_index(session, caller, column, value)
    # A blind index can collide; decrypting confirms the match before it is shown.
    return [case for case in cases if _confirms(ring, case, dui, name, birth_date)]


def _index_lookup(
    ring: KeyRing, dui: str | None, name: str | None, birth_date: date | None
) -> tuple[str, list[str]]:
    keys = ring.index_keys.keys  # during `keys rotate-index`, the old and the new
    if dui:
        return "dui_bidx", blind_indexes(keys, "dui", normalise_dui(dui) or "")
    if name and birth_date:
        key = name_dob_key(name, "", birth_date.isoformat())
        return "name_dob_bidx", blind_indexes(keys, "name_dob", key)
    raise InvalidInput(
        "give dui, name and birth_date, or number", {"_schema": [gettext(GIVE_ONE_KIND)]}
    )


def _confirms(
    ring: KeyRing, case: Case, dui: str | None, name: str | None, birth_date: date | None
) -> bool:
    cipher = cipher_for(ring, case.data_key)
    if dui:
        return open_survivor(cipher, case.survivor, "dui") == normalise_dui(dui)
    return bool(name and birth_date) and same_name_and_birth(
        cipher,
        case.survivor,
        name or "",
        birth_date,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class WorkList:
    items: list[dict[str, Any]]
    next_page: int | None
    counts: dict[str, int]


def work_list(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    *,
    assigned: str = "all",
    status: str | None = None,
    risk: str | None = None,
    overdue: bool = False,
    next_contact: int | None = None,
    inactive_days: int | None = None,
    municipality: str | None = None,
    sort: str = "activity",
    page: int = 1,
) -> WorkList:
    """One page of her institution's cases with the counts of each tab; her name only on
    the rows shown whose whole record the institution sees. Audited (`case_list`)."""
    require_case_role(caller)
    if municipality:
        municipality = resolve_municipality(session, municipality, "municipality")
    wanted = access.WorkFilter(
        assigned, status, risk, overdue, next_contact, inactive_days, municipality, sort
    )
    today, now = local_today(), utcnow()
    # One row more than a page tells whether there is a next one.
    rows, counts = access.work_list(
        session,
        caller,
        wanted,
        today=today,
        now=now,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE + 1,
    )
    next_page = page + 1 if len(rows) > PAGE_SIZE else None
    rows = rows[:PAGE_SIZE]
    names = _names_of(session, ring, caller, [row.id for row in rows if row.full])
    audit(
        session,
        ring.audit_key,
        caller,
        "case_list",
        object_type="case",
        detail=f"page={page};rows={len(rows)};names={len(names)}",
    )
    return WorkList([work_item(row, names.get(row.id)) for row in rows], next_page, counts)


def _names_of(
    session: DbSession, ring: KeyRing, caller: Caller, case_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Her name, decrypted for these rows only (at most a page, whole-record views)."""
    names = {}
    for case in access.whole_cases_with_survivor(session, caller, case_ids):
        cipher = cipher_for(ring, case.data_key)
        parts = (open_survivor(cipher, case.survivor, f) for f in ("given_names", "family_names"))
        names[case.id] = " ".join(part for part in parts if part)
    return names


def work_item(row: access.WorkRow, name: str | None = None) -> dict[str, Any]:
    """A row of the work list: codes and dates, her name where it may be shown."""
    holder = row.responsible
    return {
        "id": str(row.id),
        "number": row.number,
        "status": row.status,
        "risk_level": row.risk_level,
        "access": policy.FULL if row.full else policy.OWN_PARTS,
        "name": name,
        "assigned_to": (
            {"id": holder.id, "name": holder.name, "active": holder.active} if holder else None
        ),
        "next_contact": row.next_contact.isoformat() if row.next_contact else None,
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
    }
