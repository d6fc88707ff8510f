"""Possible duplicates: the same woman recorded twice, or the same incident entered twice.

Possible matches (a similar name, the same birth year, the same phone or DUI) are looked
for only among the cases the caller may see: a record she may not see is never counted,
ranked or hinted at, so the answer for it is the answer for no record at all. Intake's
own matching (CONTRACT §5) is another thing: it is exact and may join any record.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from app.audit.service import audit
from app.auth.caller import Caller
from app.auth.throttle_store import charge_read
from app.cases import access, policy
from app.cases.models import Case, Incident
from app.cases.name_search import Candidate, name_candidate_ids, opened_cases, shown
from app.cases.name_tokens import Ranking, name_codes, phone_digits, phone_probes
from app.cases.validators import normalise_dui
from app.core.db import DbSession
from app.core.errors import Forbidden, InvalidInput
from app.core.i18n import N_
from app.crypto.blind_index import blind_indexes
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for

NAME_THRESHOLD = 0.6  # below it, a shared word ("María") is not a reason to look twice
# How much each reason weighs in the ranking: a DUI or a phone says more than a name.
WEIGHTS = {"dui": 3.0, "phone": 2.0, "birth_year": 0.5}
STRONG_REASONS = frozenset({"name", "phone", "dui"})  # the birth year alone is no match
NOTHING_TO_COMPARE = N_("Escriba al menos el nombre, el teléfono o el DUI.")


class PossibleDuplicateIncident(InvalidInput):
    """The same day and a violence type in common with an incident already on the
    record: refused until the caller confirms it is another one (`confirm_new`)."""

    code = "possible_duplicate_incident"
    status = 409

    def __init__(self, incidents: list[Incident]) -> None:
        days = ", ".join(sorted({incident.occurred_on.isoformat() for incident in incidents}))
        message = gettext(
            "Este expediente ya tiene un hecho del %(days)s con ese tipo de violencia. "
            "Si es un hecho distinto, marque la confirmación y guarde de nuevo.",
            days=days,
        )
        super().__init__(message, {"confirm_new": [message]})


def refuse_repeated_incident(
    session: DbSession,
    caller: Caller,
    case: Case,
    data: dict[str, Any],
    view: str | None = None,
) -> None:
    """Raise PossibleDuplicateIncident unless `data["confirm_new"]`. Only incidents the
    caller's view shows count: an own_parts party learns nothing of the others."""
    if data.get("confirm_new"):
        return
    view = view or access.view_of(session, caller, case.id) or policy.OWN_PARTS
    new = (data["occurred_on"], data["violence_types"])
    stmt = select(Incident).where(Incident.case_id == case.id, Incident.voided_at.is_(None))
    same = [
        incident
        for incident in session.execute(stmt).scalars()
        if policy.sees_part(view, caller.institution_id, incident.entry_institution_id)
        and policy.same_incident((incident.occurred_on, incident.violence_types), new)
    ]
    if same:
        raise PossibleDuplicateIncident(same)


# ---- the same woman, twice --------------------------------------------------------------


def possible_duplicates(
    session: DbSession, ring: KeyRing, caller: Caller, survivor: dict[str, Any]
) -> list[Candidate]:
    """While she is being registered: records she may already have, among those the
    caller may see. Audited as a search, with the count only, and counted against the
    hourly read cap like one."""
    _require_case_role(caller)
    charge_read(caller.id, "search")
    full_name = f"{survivor.get('given_names') or ''} {survivor.get('family_names') or ''}"
    birth: date | None = survivor.get("birth_date")
    found = _duplicates(
        session,
        ring,
        caller,
        full_name,
        birth.year if birth else None,
        survivor.get("phone"),
        survivor.get("dui"),
    )
    _audit(session, ring, caller, None, len(found))
    return found


def case_duplicates(
    session: DbSession, ring: KeyRing, caller: Caller, case_id: uuid.UUID | None
) -> list[Candidate]:
    """Other visible records that may be hers, for a caller with her whole record (the
    others do not know her name, so they cannot ask by it)."""
    case = access.case_for(session, caller, case_id, need=policy.WHOLE, closed_ok=True).case
    charge_read(caller.id, "search")
    survivor = case.survivor
    cipher = cipher_for(ring, case.data_key)

    def read(name: str) -> str | None:
        return cipher.open_text("survivors", survivor.id, name, getattr(survivor, f"{name}_enc"))

    full_name = f"{read('given_names') or ''} {read('family_names') or ''}"
    found = _duplicates(
        session,
        ring,
        caller,
        full_name,
        survivor.birth_year,
        read("phone"),
        read("dui"),
        exclude=case.id,
    )
    _audit(session, ring, caller, case.id, len(found))
    return found


def _require_case_role(caller: Caller) -> None:
    if not access.works_on_cases(caller):
        raise Forbidden("this role does not work on case records")


def _duplicates(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    full_name: str,
    birth_year: int | None,
    phone: str | None,
    dui: str | None,
    exclude: uuid.UUID | None = None,
) -> list[Candidate]:
    codes = name_codes(full_name)
    digits, phone_bidx = phone_digits(phone), phone_probes(ring, phone)
    dui = normalise_dui(dui) if dui else None
    if not (codes or digits or dui):
        raise InvalidInput("nothing to compare", {"_schema": [gettext(NOTHING_TO_COMPARE)]})
    ids = name_candidate_ids(session, ring, caller, codes, None) if codes else []
    for column, value in (
        ("phone_bidx", phone_bidx),
        ("dui_bidx", blind_indexes(ring.index_keys.keys, "dui", dui) if dui else None),
    ):
        if value:
            ids += [c.id for c in access.visible_by_survivor_index(session, caller, column, value)]
    ids = [case_id for case_id in dict.fromkeys(ids) if case_id != exclude]
    found, ranking = [], Ranking(codes)
    for case, view, opened in opened_cases(session, ring, caller, ids):
        name_score = ranking.score(opened.full_name) if codes else 0.0
        reasons = {
            "name": name_score >= NAME_THRESHOLD,
            "birth_year": birth_year is not None and case.birth_year == birth_year,
            "phone": digits is not None and opened.phone == digits,
            "dui": dui is not None and opened.dui == dui,
        }
        kept = [reason for reason, holds in reasons.items() if holds]
        if STRONG_REASONS.isdisjoint(kept):
            continue
        score = (name_score if reasons["name"] else 0.0) + sum(WEIGHTS.get(r, 0) for r in kept)
        candidate = Candidate(case, view, round(score, 4), kept)
        if view == policy.FULL:
            candidate.name = opened.full_name
        found.append(candidate)
    return shown(found)


def _audit(
    session: DbSession, ring: KeyRing, caller: Caller, case_id: uuid.UUID | None, count: int
) -> None:
    audit(
        session,
        ring.audit_key,
        caller,
        "case_search",
        object_type="case",
        object_id=case_id,
        case_id=case_id,
        detail=f"duplicates;results={count}",
    )
