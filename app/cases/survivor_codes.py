"""Her pseudonymous statistics code on her survivor row: made at intake, made again when
her identity is corrected, and made again for everyone when the statistics key is
replaced (`keys rotate-statistics`, resumable: `Survivor.stat_key_id` says which key
made each row's code, so a run that stopped goes on where it was).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import update

from app.cases import access
from app.cases.models import Case, Survivor
from app.core.db import DbSession
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for
from app.crypto.survivor_code import canonical_identity, survivor_code

IDENTITY = ("dui", "given_names", "family_names", "birth_date")


def code_values(
    ring: KeyRing,
    dui: str | None,
    given_names: str,
    family_names: str,
    birth_date_iso: str | None,
) -> dict[str, str]:
    """The columns of her code: the code and the key that made it."""
    identity = canonical_identity(dui, given_names, family_names, birth_date_iso)
    return {
        "stat_code": survivor_code(ring.statistics_key, identity),
        "stat_key_id": ring.statistics_key_id,
    }


def set_code(ring: KeyRing, survivor: Survivor, identity: dict[str, Any]) -> None:
    """From her identity as intake or a correction writes it (dates as ISO text)."""
    birth = identity.get("birth_date")
    birth_iso = birth.isoformat() if isinstance(birth, date) else birth
    values = code_values(
        ring,
        identity.get("dui"),
        identity.get("given_names") or "",
        identity.get("family_names") or "",
        birth_iso,
    )
    survivor.stat_code, survivor.stat_key_id = values["stat_code"], values["stat_key_id"]


def _opened_identity(ring: KeyRing, survivor: Survivor, case: Case) -> dict[str, str | None]:
    cipher = cipher_for(ring, case.data_key)
    return {
        name: cipher.open_text("survivors", survivor.id, name, getattr(survivor, f"{name}_enc"))
        for name in IDENTITY
    }


def recode_under_active_key(session: DbSession, ring: KeyRing, limit: int) -> int:
    """Make again the codes of up to `limit` survivors another key coded (or none did);
    the caller commits. Her row's version is left alone, as `keys rotate-index` does."""
    batch = access.survivors_coded_with_another_key(session, ring.statistics_key_id, limit)
    for survivor, case in batch:
        identity = _opened_identity(ring, survivor, case)
        values = code_values(
            ring,
            identity["dui"],
            identity["given_names"] or "",
            identity["family_names"] or "",
            identity["birth_date"],
        )
        session.execute(update(Survivor).where(Survivor.id == survivor.id).values(**values))
    return len(batch)


def count_left(session: DbSession, ring: KeyRing) -> int:
    return access.count_survivors_coded_with_another_key(session, ring.statistics_key_id)
