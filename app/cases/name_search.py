"""Candidates for a partial or misspelt name, or a phone number, among the cases the
caller may see; the same candidates serve the possible duplicates of `duplicates.py`.

The name tokens (`name_tokens.py`) give at most `CANDIDATE_CAP` cases, visibility in the
same query; only those are decrypted, ranked by `similarity`, and the best `SHOWN`
returned. Her name travels back only to a caller whose view of that case is `full`:
an `own_parts` party learns the number, as it would by opening the record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext

from app.auth.caller import Caller
from app.cases import access, policy
from app.cases.models import Case
from app.cases.name_tokens import Ranking, name_codes, phone_digits, phone_probes, token_of
from app.core.db import DbSession
from app.core.errors import InvalidInput
from app.core.i18n import N_
from app.crypto.keyring import KeyRing
from app.crypto.models import DataKey
from app.crypto.service import cipher_for

CANDIDATE_CAP = 200  # decrypted per search at most: the cost stays bounded
SHOWN = 20
NO_NAME_WORDS = N_("Escriba al menos un nombre o apellido (dos letras o más).")


@dataclass(frozen=True)
class CaseRef:
    """What a result says of a case: no identity."""

    id: uuid.UUID
    number: str
    status: str
    created_at: datetime
    birth_year: int | None = None

    @classmethod
    def of(cls, case: Case) -> CaseRef:
        return cls(case.id, case.number, case.status, case.created_at)


@dataclass
class Candidate:
    case: CaseRef
    view: str
    score: float
    reasons: list[str] = field(default_factory=list)
    # Decrypted only for a `full` view.
    name: str | None = None


@dataclass(frozen=True)
class Opened:
    """What ranking needs of her identity, decrypted once."""

    full_name: str
    phone: str | None
    dui: str | None


def open_identity(ring: KeyRing, row: Any, contact: bool = True) -> Opened:
    """Her name (and, with `contact`, her phone and DUI) from a row of
    `access.visible_identities`: nothing more is opened."""
    cipher = cipher_for(ring, DataKey(id=row.data_key_id, wrapped=row.wrapped))

    def read(name: str) -> str | None:
        return cipher.open_text("survivors", row.survivor_id, name, getattr(row, f"{name}_enc"))

    full_name = " ".join(part for part in (read("given_names"), read("family_names")) if part)
    if not contact:
        return Opened(full_name, None, None)
    return Opened(full_name, phone_digits(read("phone")), read("dui"))


def typed_codes(text: str) -> list[str]:
    codes = name_codes(text)
    if not codes:
        raise InvalidInput("no name words", {"name_like": [gettext(NO_NAME_WORDS)]})
    return codes


def name_candidate_ids(
    session: DbSession, ring: KeyRing, caller: Caller, codes: list[str], birth_year: int | None
) -> list[uuid.UUID]:
    # Under every index key in use: during `keys rotate-index` a survivor's tokens are
    # the old key's or the new one's, never both, so the count of shared tokens holds.
    tokens = [token_of(key, code) for key in ring.index_keys.keys for code in codes]
    rows = access.visible_name_candidates(
        session, caller, tokens, limit=CANDIDATE_CAP, birth_year=birth_year
    )
    return [case_id for case_id, _shared in rows]


def opened_cases(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_ids: list[uuid.UUID],
    contact: bool = True,
) -> list[tuple[CaseRef, str, Opened]]:
    """The visible cases among `case_ids`, her identity decrypted for ranking."""
    found = []
    for row in access.visible_identities(session, caller, case_ids):
        view = policy.party_view(row.party_access, bool(row.excluded))
        if view is None:
            continue
        ref = CaseRef(row.id, row.number, row.status, row.created_at, row.birth_year)
        found.append((ref, view, open_identity(ring, row, contact)))
    return found


def shown(candidates: list[Candidate]) -> list[Candidate]:
    """Best first; the older record first among equals (the one to keep in a merge)."""
    ordered = sorted(candidates, key=lambda c: (-c.score, c.case.created_at, str(c.case.id)))
    return ordered[:SHOWN]


def with_name(candidate: Candidate, opened: Opened) -> Candidate:
    if candidate.view == policy.FULL:
        candidate.name = opened.full_name
    return candidate


def by_name(
    session: DbSession, ring: KeyRing, caller: Caller, text: str, birth_year: int | None = None
) -> list[Candidate]:
    """A partial or misspelt name (and, if given, her birth year), ranked."""
    codes = typed_codes(text)
    ids = name_candidate_ids(session, ring, caller, codes, birth_year)
    ranking = Ranking(codes)
    found = [
        with_name(Candidate(case, view, ranking.score(opened.full_name), ["name"]), opened)
        for case, view, opened in opened_cases(session, ring, caller, ids, contact=False)
    ]
    return shown([candidate for candidate in found if candidate.score > 0])


def by_phone(session: DbSession, ring: KeyRing, caller: Caller, phone: str) -> list[Candidate]:
    """Exact, once both numbers are digits only (a blind index, confirmed by decrypting)."""
    digits, bidx = phone_digits(phone), phone_probes(ring, phone)
    if bidx is None:
        raise InvalidInput("no phone", {"phone": [gettext("Número de teléfono no válido.")]})
    cases = access.visible_by_survivor_index(session, caller, "phone_bidx", bidx)
    found = [
        with_name(Candidate(case, view, 1.0, ["phone"]), opened)
        for case, view, opened in opened_cases(session, ring, caller, [c.id for c in cases])
        if opened.phone == digits
    ]
    return shown(found)


def summary_of(candidate: Candidate) -> dict[str, Any]:
    """The exact kinds' item (CONTRACT §3): the case, nothing of her."""
    case = candidate.case
    return {
        "id": str(case.id),
        "number": case.number,
        "status": case.status,
        "created_at": case.created_at.isoformat() if case.created_at else None,
    }


def present_candidate(candidate: Candidate) -> dict[str, Any]:
    return {
        **summary_of(candidate),
        "access": candidate.view,
        "name": candidate.name,
        "score": candidate.score,
        "reasons": list(candidate.reasons),
    }
