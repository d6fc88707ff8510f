"""Envelope encryption with AES-256-GCM.

Each case (and each user, for the TOTP secret) has its own random data key. The data
key is stored wrapped by a KEK; fields are encrypted with the data key. Every blob
starts with a format version and the id of the key that made it, uses a fresh 96-bit
nonce, and authenticates table, record id and field as associated data: a ciphertext
pasted into another row or column does not decrypt.
"""

from __future__ import annotations

import secrets
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_V1 = 1
NONCE_BYTES = 12  # 96-bit nonces, random per encryption (GCM's recommended size)
DATA_KEY_BYTES = 32
_UUID_BYTES = 16


class DecryptionError(ValueError):
    """The blob is malformed, was made with another key, or was moved or altered."""


def new_data_key() -> bytes:
    return secrets.token_bytes(DATA_KEY_BYTES)


def _field_aad(table: str, record_id: object, field: str) -> bytes:
    return f"ruta/v1/{table}/{record_id}/{field}".encode()


def _data_key_aad(data_key_id: uuid.UUID) -> bytes:
    return f"ruta/v1/data_keys/{data_key_id}".encode()


def wrap_data_key(kek_id: str, kek: bytes, data_key_id: uuid.UUID, data_key: bytes) -> bytes:
    """version | len(kek_id) | kek_id | nonce | AES-GCM(kek, data key)."""
    key_id = kek_id.encode("ascii")
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(kek).encrypt(nonce, data_key, _data_key_aad(data_key_id))
    return bytes([FORMAT_V1, len(key_id)]) + key_id + nonce + sealed


def wrapped_kek_id(blob: bytes) -> str:
    if len(blob) < 2 or blob[0] != FORMAT_V1 or len(blob) < 2 + blob[1] + NONCE_BYTES:
        raise DecryptionError("unknown wrapped-key format")
    try:
        return blob[2 : 2 + blob[1]].decode("ascii")
    except UnicodeDecodeError as exc:
        raise DecryptionError("unknown wrapped-key format") from exc


def unwrap_data_key(kek: bytes, data_key_id: uuid.UUID, blob: bytes) -> bytes:
    wrapped_kek_id(blob)  # the header is not authenticated: refuse what is not v1
    start = 2 + blob[1]
    nonce, sealed = blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :]
    try:
        return AESGCM(kek).decrypt(nonce, sealed, _data_key_aad(data_key_id))
    except InvalidTag as exc:
        raise DecryptionError("data key does not unwrap with this KEK") from exc


class FieldCipher:
    """Seals and opens the fields of the records that share one data key."""

    __slots__ = ("_aead", "_key_id_bytes", "key_id")

    def __init__(self, key_id: uuid.UUID, data_key: bytes) -> None:
        self.key_id = key_id
        self._key_id_bytes = key_id.bytes
        self._aead = AESGCM(data_key)

    def seal(
        self, table: str, record_id: object, field: str, value: str | bytes | None
    ) -> bytes | None:
        if value is None:
            return None
        data = value.encode("utf-8") if isinstance(value, str) else value
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, data, _field_aad(table, record_id, field))
        return bytes([FORMAT_V1]) + self._key_id_bytes + nonce + sealed

    def open_bytes(
        self, table: str, record_id: object, field: str, blob: bytes | None
    ) -> bytes | None:
        if blob is None:
            return None
        header = 1 + _UUID_BYTES
        if len(blob) < header + NONCE_BYTES or blob[0] != FORMAT_V1:
            raise DecryptionError("unknown ciphertext format")
        if blob[1:header] != self._key_id_bytes:
            raise DecryptionError("ciphertext was made with another data key")
        nonce, sealed = blob[header : header + NONCE_BYTES], blob[header + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, sealed, _field_aad(table, record_id, field))
        except InvalidTag as exc:
            raise DecryptionError(f"{table}.{field} of {record_id} does not decrypt") from exc

    def open_text(
        self, table: str, record_id: object, field: str, blob: bytes | None
    ) -> str | None:
        raw = self.open_bytes(table, record_id, field, blob)
        return None if raw is None else raw.decode("utf-8")
