"""A sealed, read-once stash for what must cross one redirect: a refused form (her words
and the errors) and the survivor's slip (the status code and PIN).

Threat: what a survivor told is written nowhere in clear. The session cookie is only
signed, so it carries just the stash's random id; the row holds AES-256-GCM ciphertext
under a key derived (HKDF) from a KEK for this one purpose, so a database dump without
the key file reveals nothing and no case key is ever used or exposed. The associated
data binds the blob to its row, user, session, case and purpose: a blob copied into
another row does not open. A stash opens once (it is deleted as it is read), only for
the session that made it, and not after `LIFETIME`; expired rows are deleted whenever a
new one is written.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, select

from app.core.db import DbSession
from app.core.time import utcnow
from app.crypto.envelope import NONCE_BYTES
from app.crypto.keyring import KEY_BYTES, KeyNotFound, KeyRing
from app.crypto.models import FormStash

LIFETIME = timedelta(minutes=15)  # long enough to read the page, short enough to forget
FORMAT_V1 = 1
_PURPOSE_INFO = b"ruta/v1/form-stash"


@dataclass(frozen=True)
class Owner:
    """Whose stash it is: the user, her web session and the case (None for an intake)."""

    user_id: int
    user_session_id: int
    case_id: uuid.UUID | None


def _stash_key(kek: bytes, kek_id: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_PURPOSE_INFO)
    return hkdf.derive(kek + kek_id.encode("ascii"))


def _aad(stash_id: uuid.UUID, owner: Owner, purpose: str) -> bytes:
    return (
        f"ruta/v1/form_stashes/{stash_id}/{owner.user_id}/{owner.user_session_id}/"
        f"{owner.case_id}/{purpose}"
    ).encode()


def put(
    session: DbSession, ring: KeyRing, owner: Owner, purpose: str, payload: dict[str, Any]
) -> uuid.UUID:
    """Seal `payload` (JSON) for `owner`; the id goes in the session cookie."""
    now = utcnow()
    session.execute(delete(FormStash).where(FormStash.expires_at < now))
    # One stash per purpose and session: a second failure replaces the first.
    session.execute(
        delete(FormStash).where(
            FormStash.user_session_id == owner.user_session_id,
            FormStash.user_id == owner.user_id,
            FormStash.purpose == purpose,
        )
    )
    stash_id = uuid.uuid4()
    kek_id = ring.active_kek_id
    nonce = secrets.token_bytes(NONCE_BYTES)
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    sealed = AESGCM(_stash_key(ring.kek(kek_id), kek_id)).encrypt(
        nonce, data, _aad(stash_id, owner, purpose)
    )
    session.add(
        FormStash(
            id=stash_id,
            user_id=owner.user_id,
            user_session_id=owner.user_session_id,
            case_id=owner.case_id,
            purpose=purpose,
            kek_id=kek_id,
            sealed=bytes([FORMAT_V1]) + nonce + sealed,
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    return stash_id


def take(
    session: DbSession, ring: KeyRing, stash_id: uuid.UUID, owner: Owner, purpose: str
) -> dict[str, Any] | None:
    """The payload, once: the row is deleted as it is read. None when it is not this
    owner's, is for another purpose, has expired, or does not open."""
    row = session.execute(
        select(FormStash).where(
            FormStash.id == stash_id,
            FormStash.user_id == owner.user_id,
            FormStash.user_session_id == owner.user_session_id,
            FormStash.purpose == purpose,
        )
    ).scalar_one_or_none()
    if row is None or row.case_id != owner.case_id:
        return None
    session.delete(row)
    if row.expires_at <= utcnow():
        return None
    return _open(ring, row, owner, purpose)


def _open(ring: KeyRing, row: FormStash, owner: Owner, purpose: str) -> dict[str, Any] | None:
    blob = row.sealed
    if len(blob) < 1 + NONCE_BYTES or blob[0] != FORMAT_V1:
        return None
    nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        key = _stash_key(ring.kek(row.kek_id), row.kek_id)
        data = AESGCM(key).decrypt(nonce, sealed, _aad(row.id, owner, purpose))
    except (InvalidTag, KeyNotFound):
        return None  # altered, moved, or its KEK is gone: as if it had expired
    loaded = json.loads(data.decode("utf-8"))
    return loaded if isinstance(loaded, dict) else None
