"""Finding cases: exact search through the blind indexes, and the caller's work list.

Both see only the cases the caller's institution may see: the visibility clause is in
the WHERE of every query, so a case of another institution is never even loaded. The
identifiers searched for come from request bodies; nothing here touches a URL or a log.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from app.audit.service import audit
from app.auth.caller import Caller
from app.cases import access
from app.cases.models import Case
from app.cases.service import open_survivor, require_case_role, same_name_and_birth
from app.cases.validators import normalise_dui
from app.core.db import DbSession
from app.core.errors import InvalidInput
from app.crypto.blind_index import blind_index, name_dob_key
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for

PAGE_SIZE = 50
GIVE_ONE_KIND = (
    "Indique el DUI, el nombre completo con la fecha de nacimiento, o el número de expediente."
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
) -> list[Case]:
    """Exact matches among the cases the caller may see, oldest first; audited with the
    number of results only."""
    require_case_role(caller)
    if number:
        found = access.visible_by_number(session, caller, number.strip().upper())
    else:
        column, value = _index_lookup(ring, dui, name, birth_date)
        cases = access.visible_by_survivor_index(session, caller, column, value)
        # A blind index can collide; decrypting confirms the match before it is shown.
        found = [case for case in cases if _confirms(ring, case, dui, name, birth_date)]
    audit(
        session,
        ring.audit_key,
        caller,
        "case_search",
        object_type="case",
        detail=f"results={len(found)}",
    )
    return found


def _index_lookup(
    ring: KeyRing, dui: str | None, name: str | None, birth_date: date | None
) -> tuple[str, str]:
    if dui:
        return "dui_bidx", blind_index(ring.index_key, "dui", normalise_dui(dui) or "")
    if name and birth_date:
        key = name_dob_key(name, "", birth_date.isoformat())
        return "name_dob_bidx", blind_index(ring.index_key, "name_dob", key)
    raise InvalidInput("give dui, name and birth_date, or number", {"_schema": [GIVE_ONE_KIND]})


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


def work_list(
    session: DbSession,
    user: access.Subject,
    *,
    status: str | None = None,
    risk: str | None = None,
    page: int = 1,
) -> tuple[list[Case], int | None]:
    """One page of the cases the user may see, newest activity first, and the next page."""
    require_case_role(user)
    # One row more than a page tells whether there is a next one, without a COUNT.
    rows = access.work_list(
        session,
        user,
        status=status,
        risk=risk,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE + 1,
    )
    next_page = page + 1 if len(rows) > PAGE_SIZE else None
    return rows[:PAGE_SIZE], next_page


def work_item(case: Case) -> dict[str, Any]:
    """What a work list shows of a case: no identity, nothing decrypted."""
    return {
        "id": str(case.id),
        "number": case.number,
        "status": case.status,
        "risk_level": case.risk_level,
        "assigned_to": None,  # cases are not assigned to a person yet
        "updated_at": case.updated_at.isoformat() if case.updated_at else None,
    }
