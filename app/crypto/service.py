"""Data keys, the canary and rotation, on top of the key ring and the envelope format."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from typing import Any

from flask import current_app
from sqlalchemy import and_, func, inspect, select
from sqlalchemy.exc import IntegrityError

from app.core.db import DbSession
from app.core.time import utcnow
from app.crypto.envelope import (
    DecryptionError,
    FieldCipher,
    new_data_key,
    unwrap_data_key,
    wrap_data_key,
    wrapped_kek_id,
)
from app.crypto.keyring import COHORT_PREFIX, KeyFileError, KeyNotFound, KeyRing
from app.crypto.models import PURGED_KEK_ID, CryptoCanary, DataKey

CANARY_ID = 1
_CANARY_KEY_ID = uuid.UUID(int=0)
_CANARY_PLAINTEXT = hashlib.sha256(b"ruta canary").digest()


class StartupError(RuntimeError):
    """The app must not serve: keys missing or not the ones that made the data."""


def get_keyring() -> KeyRing:
    ring: KeyRing | None = current_app.extensions.get("ruta.keyring")
    if ring is None:
        raise KeyFileError(
            f"key file {current_app.config['RUTA_KEY_FILE']} is missing; "
            "run `flask --app wsgi keys init`"
        )
    return ring


def create_data_key(session: DbSession, ring: KeyRing) -> tuple[DataKey, FieldCipher]:
    key_id = uuid.uuid4()
    key = new_data_key()
    kek_id = ring.active_kek_id
    row = DataKey(
        id=key_id, kek_id=kek_id, wrapped=wrap_data_key(kek_id, ring.kek(kek_id), key_id, key)
    )
    session.add(row)
    return row, FieldCipher(key_id, key)


def cipher_for(ring: KeyRing, data_key: DataKey) -> FieldCipher:
    kek = ring.kek(wrapped_kek_id(data_key.wrapped))
    return FieldCipher(data_key.id, unwrap_data_key(kek, data_key.id, data_key.wrapped))


def _check(key: bytes) -> str:
    return hmac.new(key, b"canary", hashlib.sha256).hexdigest()


def _checks(ring: KeyRing) -> tuple[str, str]:
    return _check(ring.index_key), _check(ring.audit_key)


def _any_matches(keys: tuple[bytes, ...], check: str) -> bool:
    """While a key is being replaced the canary may still hold the old key's check."""
    return any(hmac.compare_digest(_check(key), check) for key in keys)


def _wrapped_canary(ring: KeyRing) -> bytes:
    kek_id = ring.active_kek_id
    return wrap_data_key(kek_id, ring.kek(kek_id), _CANARY_KEY_ID, _CANARY_PLAINTEXT)


def verify_or_create_canary(session: DbSession, ring: KeyRing) -> None:
    """Refuse keys that did not make the existing data; write the canary on a new database."""
    if not inspect(session.get_bind()).has_table(CryptoCanary.__tablename__):
        return  # not migrated yet: nothing to protect
    canary = session.get(CryptoCanary, CANARY_ID)
    if canary is None:
        _create_canary(session, ring)
        return
    try:
        kek = ring.kek(wrapped_kek_id(canary.kek_blob))
        opened = unwrap_data_key(kek, _CANARY_KEY_ID, canary.kek_blob)
    except (KeyNotFound, DecryptionError) as exc:
        raise StartupError("the key file does not open this database's data (canary)") from exc
    if opened != _CANARY_PLAINTEXT or not (
        _any_matches(ring.index_keys.keys, canary.index_check)
        and _any_matches(ring.audit_keys.keys, canary.audit_check)
    ):
        raise StartupError("the key file's index or audit key is not the one that made this data")


def _create_canary(session: DbSession, ring: KeyRing) -> None:
    index_check, audit_check = _checks(ring)
    session.add(
        CryptoCanary(
            id=CANARY_ID,
            kek_blob=_wrapped_canary(ring),
            index_check=index_check,
            audit_check=audit_check,
        )
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # another worker wrote it first; check theirs
        verify_or_create_canary(session, ring)


def _under_an_old_kek(active_kek_id: str) -> Any:
    """Rotation leaves cohort-wrapped keys where they are (moving them under the KEK would
    undo what a purge's destruction of their cohort key achieves) and destroyed ones."""
    return and_(
        DataKey.kek_id != active_kek_id,
        DataKey.kek_id != PURGED_KEK_ID,
        ~DataKey.kek_id.startswith(COHORT_PREFIX),
    )


def count_keys_to_rewrap(session: DbSession, active_kek_id: str) -> int:
    stmt = select(func.count()).select_from(DataKey).where(_under_an_old_kek(active_kek_id))
    return session.execute(stmt).scalar_one()


def rewrap_batch(session: DbSession, ring: KeyRing, batch: int) -> int:
    """Re-wrap up to `batch` data keys under the active KEK; the caller commits."""
    active = ring.active_kek_id
    stmt = select(DataKey).where(_under_an_old_kek(active)).order_by(DataKey.id).limit(batch)
    rows = session.execute(stmt.with_for_update(skip_locked=True)).scalars().all()
    new_kek = ring.kek(active)
    for row in rows:
        plain = unwrap_data_key(ring.kek(row.kek_id), row.id, row.wrapped)
        row.wrapped = wrap_data_key(active, new_kek, row.id, plain)
        row.kek_id = active
    return len(rows)


def recheck_canary(session: DbSession, ring: KeyRing) -> None:
    """The canary follows a replaced index or audit key (the caller commits)."""
    canary = session.get(CryptoCanary, CANARY_ID)
    if canary is not None:
        canary.index_check, canary.audit_check = _checks(ring)
        canary.updated_at = utcnow()


def rewrap_canary(session: DbSession, ring: KeyRing) -> None:
    canary = session.get(CryptoCanary, CANARY_ID)
    if canary is not None:
        canary.kek_blob = _wrapped_canary(ring)
        canary.updated_at = utcnow()


def rewrap_all(
    session: DbSession, ring: KeyRing, batch: int, progress: Callable[[int], None]
) -> int:
    """Re-wrap every data key, committing per batch so an interruption loses nothing."""
    done = 0
    while True:
        moved = rewrap_batch(session, ring, batch)
        session.commit()
        if moved == 0:
            break
        done += moved
        progress(moved)
    rewrap_canary(session, ring)
    session.commit()
    return done
