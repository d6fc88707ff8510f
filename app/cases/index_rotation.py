"""Replacing the index key: every survivor's blind indexes and name tokens, and every
aggressor's indexes, recomputed under the new key, from the identity decrypted with the
case's key.

Searches probe under every index key in the file while this runs (`KeyRing.index_keys`),
so each survivor is found whichever key made her row; `Survivor.index_key_id` says
which, so a run that stopped goes on where it was. The old key leaves the key file only
once no row needs it (docs/security.md, "Replacing keys").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, update

from app.cases import access
from app.cases.models import Survivor
from app.cases.name_tokens import name_tokens, phone_index
from app.cases.record_models import SurvivorNameToken
from app.core.db import DbSession
from app.crypto.blind_index import blind_index, name_dob_key
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for

IDENTITY = ("given_names", "family_names", "dui", "birth_date", "phone")


def _identity(ring: KeyRing, survivor: Survivor, case: Any) -> dict[str, str]:
    cipher = cipher_for(ring, case.data_key)
    return {
        name: cipher.open_text("survivors", survivor.id, name, getattr(survivor, f"{name}_enc"))
        or ""
        for name in IDENTITY
    }


def _indexes(ring: KeyRing, identity: dict[str, str]) -> dict[str, Any]:
    key = ring.index_key
    full_name = f"{identity['given_names']} {identity['family_names']}"
    return {
        "dui_bidx": blind_index(key, "dui", identity["dui"]) if identity["dui"] else None,
        "name_dob_bidx": blind_index(
            key, "name_dob", name_dob_key(full_name, "", identity["birth_date"])
        ),
        "phone_bidx": phone_index(ring, identity["phone"]),
        "index_key_id": ring.index_keys.active_id,
    }


def reindex_under_active_key(session: DbSession, ring: KeyRing, limit: int) -> int:
    """Recompute the indexes and tokens of up to `limit` survivors whose row another key
    made; the caller commits. Her row's version is left alone: an open correction form
    of hers must not turn stale because the indexes moved."""
    batch = access.survivors_indexed_with_another_key(session, ring.index_keys.active_id, limit)
    tokens: list[dict[str, Any]] = []
    for survivor, case in batch:
        identity = _identity(ring, survivor, case)
        values = _indexes(ring, identity)
        session.execute(update(Survivor).where(Survivor.id == survivor.id).values(**values))
        words = name_tokens(ring.index_key, identity["given_names"], identity["family_names"])
        tokens += [{"survivor_id": survivor.id, "token": t} for t in dict.fromkeys(words)]
    ids = [survivor.id for survivor, _case in batch]
    if ids:
        session.execute(delete(SurvivorNameToken).where(SurvivorNameToken.survivor_id.in_(ids)))
    if tokens:
        session.execute(insert(SurvivorNameToken), tokens)
    if len(batch) < limit:
        return len(batch) + reindex_aggressors(session, ring, limit - len(batch))
    return len(batch)


def reindex_aggressors(session: DbSession, ring: KeyRing, limit: int) -> int:
    """The aggressors' two indexes, as the survivors' above: recomputed from his identity,
    his row's version and `indexed_at` left alone (the same man, the same match)."""
    from app.cases.aggressor_models import Aggressor
    from app.cases.aggressors import identity_of, indexes_of

    batch = access.aggressors_indexed_with_another_key(session, ring.index_keys.active_id, limit)
    for row, case in batch:
        values = indexes_of(ring, identity_of(cipher_for(ring, case.data_key), row))
        session.execute(update(Aggressor).where(Aggressor.id == row.id).values(**values))
    return len(batch)


def count_left(session: DbSession, ring: KeyRing) -> int:
    key_id = ring.index_keys.active_id
    return access.count_survivors_indexed_with_another_key(
        session, key_id
    ) + access.count_aggressors_indexed_with_another_key(session, key_id)
