"""The key file: key-encryption keys (KEKs) plus the separate index and audit keys.

Threat: a copy of the database alone must reveal nothing. The key file lives apart
from the database (mode 0600), so a stolen dump or backup holds only ciphertext and
keyed hashes. Several KEKs may be present: the active one wraps new data keys, the
older ones still unwrap what they wrapped until `keys rotate` re-wraps it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

KEY_BYTES = 32  # AES-256 and HMAC-SHA256 keys
KEY_FILE_FORMAT = 1
RELOAD_CHECK_SECONDS = 5.0  # how often a serving worker looks for a rotated key file


class KeyFileError(RuntimeError):
    """The key file is missing, unreadable or malformed."""


class KeyNotFound(KeyError):
    """A ciphertext names a key that the key ring does not hold."""


def new_key_id() -> str:
    return "k" + secrets.token_hex(6)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError(f"key file: {what} is not valid base64") from exc
    if len(raw) != KEY_BYTES:
        raise KeyFileError(f"key file: {what} must be {KEY_BYTES} bytes")
    return raw


@dataclass(frozen=True)
class KeyMaterial:
    # repr=False: a key must not reach a log or a traceback through repr().
    keks: dict[str, bytes] = field(repr=False)
    active_kek_id: str
    index_key: bytes = field(repr=False)
    audit_key: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> KeyMaterial:
        kek_id = new_key_id()
        return cls(
            keks={kek_id: secrets.token_bytes(KEY_BYTES)},
            active_kek_id=kek_id,
            index_key=secrets.token_bytes(KEY_BYTES),
            audit_key=secrets.token_bytes(KEY_BYTES),
        )

    def with_new_active_kek(self) -> KeyMaterial:
        kek_id = new_key_id()
        keks = dict(self.keks)
        keks[kek_id] = secrets.token_bytes(KEY_BYTES)
        return KeyMaterial(keks, kek_id, self.index_key, self.audit_key)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": KEY_FILE_FORMAT,
                "active_kek": self.active_kek_id,
                "keks": {kid: _b64(key) for kid, key in self.keks.items()},
                "index_key": _b64(self.index_key),
                "audit_key": _b64(self.audit_key),
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> KeyMaterial:
        try:
            data = json.loads(text)
            keks = {str(k): _unb64(v, f"KEK {k}") for k, v in data["keks"].items()}
            material = cls(
                keks=keks,
                active_kek_id=str(data["active_kek"]),
                index_key=_unb64(data["index_key"], "index key"),
                audit_key=_unb64(data["audit_key"], "audit key"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyFileError("key file is malformed") from exc
        if data.get("format") != KEY_FILE_FORMAT:
            raise KeyFileError("key file has an unknown format version")
        if material.active_kek_id not in material.keks:
            raise KeyFileError("key file: the active KEK is not in the ring")
        return material


def read_key_file(path: Path) -> KeyMaterial:
    if not path.exists():
        raise KeyFileError(f"key file {path} does not exist; run `flask --app wsgi keys init`")
    try:
        text = path.read_text()
    except OSError as exc:
        raise KeyFileError(f"key file {path} cannot be read") from exc
    return KeyMaterial.from_json(text)


def write_key_file(path: Path, material: KeyMaterial) -> None:
    """Write atomically with mode 0600, so a crash never leaves half a key file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".kek-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(material.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


class KeyRing:
    """The loaded key file, re-read when another process rotates it."""

    def __init__(self, path: Path, material: KeyMaterial | None = None) -> None:
        self.path = path
        self._material = material or read_key_file(path)
        self._mtime = self._file_mtime()
        self._checked_at = time.monotonic()
        self._lock = threading.Lock()

    def _file_mtime(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    def refresh(self, force: bool = False) -> None:
        """Pick up a rotated key file; cheap enough to call on every request."""
        now = time.monotonic()
        if not force and now - self._checked_at < RELOAD_CHECK_SECONDS:
            return
        with self._lock:
            self._checked_at = now
            mtime = self._file_mtime()
            if force or mtime != self._mtime:
                self._material = read_key_file(self.path)
                self._mtime = mtime

    @property
    def material(self) -> KeyMaterial:
        return self._material

    @property
    def active_kek_id(self) -> str:
        return self._material.active_kek_id

    def kek(self, kek_id: str) -> bytes:
        key = self._material.keks.get(kek_id)
        if key is None:
            self.refresh(force=True)
            key = self._material.keks.get(kek_id)
        if key is None:
            raise KeyNotFound(kek_id)
        return key

    @property
    def index_key(self) -> bytes:
        return self._material.index_key

    @property
    def audit_key(self) -> bytes:
        return self._material.audit_key

    def rotate(self) -> str:
        """Add a new active KEK to the file and return its id."""
        with self._lock:
            material = read_key_file(self.path).with_new_active_kek()
            write_key_file(self.path, material)
            self._material = material
            self._mtime = self._file_mtime()
        return material.active_kek_id
