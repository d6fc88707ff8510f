"""The key file: key-encryption keys (KEKs) plus the separate index and audit keys.

Threat: a copy of the database alone must reveal nothing. The key file lives apart
from the database (mode 0600), so a stolen dump or backup holds only ciphertext and
keyed hashes. Several KEKs may be present: the active one wraps new data keys, the
older ones still unwrap what they wrapped until `keys rotate` re-wraps it.

The index and audit keys can be replaced too (docs/security.md, "Replacing keys"). Each
is named by its fingerprint (`key_id`), which rows record. While `keys rotate-index`
runs, the old index keys stay beside the new one (searches probe under each); once no
row needs them they go, leaving only their status-code subkey (a slip's code is known
to her alone and cannot be recomputed). Past audit keys stay for good: the events and
links they made can only be verified with them.

The statistics key makes the pseudonymous survivor code of the de-identified exports
(app/crypto/survivor_code.py). It is neither a case key nor the index key, so the code
links a woman's reports across institutions in the national counts and nothing else;
`keys rotate-statistics` replaces it and destroys the old one, which breaks the link
with every export made before, on purpose.

Retention cohort keys (`cohorts`) wrap the data keys of closed cases, grouped by the
month they closed in (docs/retention.md). They live only here, never in the database:
removing one from this file makes every database backup's copy of the data keys it
wrapped useless, which is what `records purge` relies on.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

KEY_BYTES = 32  # AES-256 and HMAC-SHA256 keys
KEY_FILE_FORMAT = 2  # 2: index and audit keys can be replaced
OLD_KEY_FILE_FORMATS = frozenset({1})  # still open, and are written back as the current one
RELOAD_CHECK_SECONDS = 5.0  # how often a serving worker looks for a rotated key file


class KeyFileError(RuntimeError):
    """The key file is missing, unreadable or malformed."""


class KeyNotFound(KeyError):
    """A ciphertext names a key that the key ring does not hold."""


COHORT_PREFIX = "c"


def new_key_id() -> str:
    return "k" + secrets.token_hex(6)


def new_cohort_id(month: str) -> str:
    """`c` + the closing month (YYYYMM) + random: a month may have several over time."""
    return COHORT_PREFIX + month.replace("-", "") + secrets.token_hex(4)


def is_cohort_id(key_id: str) -> bool:
    return key_id.startswith(COHORT_PREFIX)


def key_fingerprint(key: bytes, use: str) -> str:
    """A key's public id: names it in rows, files and messages, reveals nothing of it."""
    tag = hmac.new(key, b"ruta/key-id/" + use.encode(), hashlib.sha256).hexdigest()
    return use[0] + tag[:12]


@dataclass(frozen=True)
class HmacKeys:
    """The keys of one use, oldest first: the last one makes new values, all of them
    still check (or find) what they made. `get(None)` is the first key, the one that
    made what was written before key ids were recorded."""

    keys: tuple[bytes, ...] = field(repr=False)
    use: str

    @property
    def active(self) -> bytes:
        return self.keys[-1]

    @property
    def active_id(self) -> str:
        return key_fingerprint(self.active, self.use)

    def ids(self) -> list[str]:
        return [key_fingerprint(key, self.use) for key in self.keys]

    def get(self, key_id: str | None) -> bytes | None:
        if key_id is None:
            return self.keys[0]
        return next((k for k in self.keys if key_fingerprint(k, self.use) == key_id), None)


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
    cohorts: dict[str, bytes] = field(default_factory=dict, repr=False)
    # Index keys being replaced: still searched until `keys rotate-index` retires them.
    retiring_index_keys: tuple[bytes, ...] = field(default=(), repr=False)
    # The status-code subkeys of retired index keys (slips handed out before).
    status_keys: tuple[bytes, ...] = field(default=(), repr=False)
    # Replaced audit keys, oldest first: they verify what they made, and sign nothing.
    past_audit_keys: tuple[bytes, ...] = field(default=(), repr=False)
    # None in a key file from before survivor codes: `keys init` (or the start) adds it.
    statistics_key: bytes | None = field(default=None, repr=False)
    # Statistics keys being replaced: destroyed once every code is made again.
    retiring_statistics_keys: tuple[bytes, ...] = field(default=(), repr=False)

    @classmethod
    def generate(cls) -> KeyMaterial:
        kek_id = new_key_id()
        return cls(
            keks={kek_id: secrets.token_bytes(KEY_BYTES)},
            active_kek_id=kek_id,
            index_key=secrets.token_bytes(KEY_BYTES),
            audit_key=secrets.token_bytes(KEY_BYTES),
            statistics_key=secrets.token_bytes(KEY_BYTES),
        )

    def with_statistics_key(self) -> KeyMaterial:
        """The upgrade of a key file from before survivor codes; the others stay."""
        if self.statistics_key is not None:
            return self
        return replace(self, statistics_key=secrets.token_bytes(KEY_BYTES))

    def with_new_statistics_key(self) -> KeyMaterial:
        old = () if self.statistics_key is None else (self.statistics_key,)
        return replace(
            self,
            statistics_key=secrets.token_bytes(KEY_BYTES),
            retiring_statistics_keys=(*self.retiring_statistics_keys, *old),
        )

    def without_retiring_statistics_keys(self) -> KeyMaterial:
        return replace(self, retiring_statistics_keys=())

    def with_new_active_kek(self) -> KeyMaterial:
        kek_id = new_key_id()
        keks = dict(self.keks)
        keks[kek_id] = secrets.token_bytes(KEY_BYTES)
        return replace(self, keks=keks, active_kek_id=kek_id)

    def with_new_index_key(self) -> KeyMaterial:
        """A new index key makes new values; the current one is searched until retired."""
        return replace(
            self,
            index_key=secrets.token_bytes(KEY_BYTES),
            retiring_index_keys=(*self.retiring_index_keys, self.index_key),
        )

    def without_retiring_index_keys(self, status_subkeys: Iterable[bytes]) -> KeyMaterial:
        return replace(
            self,
            retiring_index_keys=(),
            status_keys=(*self.status_keys, *status_subkeys),
        )

    def with_new_audit_key(self) -> KeyMaterial:
        return replace(
            self,
            audit_key=secrets.token_bytes(KEY_BYTES),
            past_audit_keys=(*self.past_audit_keys, self.audit_key),
        )

    def with_cohorts(self, added: dict[str, bytes], dropped: Iterable[str]) -> KeyMaterial:
        cohorts = {**self.cohorts, **added}
        for cohort_id in dropped:
            cohorts.pop(cohort_id, None)
        return replace(self, cohorts=cohorts)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": KEY_FILE_FORMAT,
                "active_kek": self.active_kek_id,
                "keks": {kid: _b64(key) for kid, key in self.keks.items()},
                "index_key": _b64(self.index_key),
                "audit_key": _b64(self.audit_key),
                "cohorts": {cid: _b64(key) for cid, key in self.cohorts.items()},
                "retiring_index_keys": [_b64(key) for key in self.retiring_index_keys],
                "status_keys": [_b64(key) for key in self.status_keys],
                "past_audit_keys": [_b64(key) for key in self.past_audit_keys],
                "statistics_key": _b64(self.statistics_key) if self.statistics_key else None,
                "retiring_statistics_keys": [_b64(key) for key in self.retiring_statistics_keys],
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
                cohorts={
                    str(k): _unb64(v, f"cohort key {k}")
                    for k, v in (data.get("cohorts") or {}).items()
                },
                retiring_index_keys=_key_list(data, "retiring_index_keys"),
                status_keys=_key_list(data, "status_keys"),
                past_audit_keys=_key_list(data, "past_audit_keys"),
                statistics_key=_optional_key(data, "statistics_key"),
                retiring_statistics_keys=_key_list(data, "retiring_statistics_keys"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyFileError("key file is malformed") from exc
        if data.get("format") not in OLD_KEY_FILE_FORMATS | {KEY_FILE_FORMAT}:
            raise KeyFileError("key file has an unknown format version")
        if material.active_kek_id not in material.keks:
            raise KeyFileError("key file: the active KEK is not in the ring")
        return material


def _key_list(data: dict[str, object], name: str) -> tuple[bytes, ...]:
    """An optional list of keys (absent from format 1 files)."""
    listed = data.get(name) or []
    if not isinstance(listed, list):
        raise KeyFileError(f"key file: {name} must be a list")
    return tuple(_unb64(text, name.replace("_", " ")) for text in listed)


def _optional_key(data: dict[str, object], name: str) -> bytes | None:
    text = data.get(name)
    if text is None:
        return None
    if not isinstance(text, str):
        raise KeyFileError(f"key file: {name} must be a string")
    return _unb64(text, name.replace("_", " "))


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

    def _wrapping_key(self, kek_id: str) -> bytes | None:
        material = self._material
        return material.keks.get(kek_id) or material.cohorts.get(kek_id)

    def kek(self, kek_id: str) -> bytes:
        """A KEK or a retention cohort key: either unwraps the data keys it wrapped."""
        key = self._wrapping_key(kek_id)
        if key is None:
            self.refresh(force=True)
            key = self._wrapping_key(kek_id)
        if key is None:
            raise KeyNotFound(kek_id)
        return key

    def cohort_ids(self) -> list[str]:
        return list(self._material.cohorts)

    @contextmanager
    def _file_locked(self) -> Iterator[None]:
        """Every change re-reads the file under an exclusive lock of a file beside it:
        two processes adding keys at once must not lose one (a lost cohort key would
        destroy the records it wraps)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        with self._lock:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def _change(self, change: Callable[[KeyMaterial], KeyMaterial]) -> KeyMaterial:
        with self._file_locked():
            material = change(read_key_file(self.path))
            write_key_file(self.path, material)
            self._material = material
            self._mtime = self._file_mtime()
        return material

    def add_cohort(self, month: str) -> str:
        """A new cohort key, on disk (fsynced) before any data key is wrapped with it."""
        cohort_id = new_cohort_id(month)
        key = secrets.token_bytes(KEY_BYTES)
        self._change(lambda material: material.with_cohorts({cohort_id: key}, ()))
        return cohort_id

    def drop_cohorts(self, cohort_ids: Iterable[str]) -> None:
        """Destroy cohort keys: what they wrapped, in any copy of the database, is lost."""
        dropped = [cid for cid in cohort_ids if is_cohort_id(cid)]
        if dropped:
            self._change(lambda material: material.with_cohorts({}, dropped))

    @property
    def index_key(self) -> bytes:
        """The index key new values are made with."""
        return self._material.index_key

    @property
    def index_keys(self) -> HmacKeys:
        """Every index key a stored value may have been made with (oldest first)."""
        material = self._material
        return HmacKeys((*material.retiring_index_keys, material.index_key), "index")

    @property
    def status_keys(self) -> tuple[bytes, ...]:
        """The status-code subkeys of retired index keys."""
        return self._material.status_keys

    @property
    def audit_key(self) -> bytes:
        """The audit key new events are signed with."""
        return self._material.audit_key

    @property
    def audit_keys(self) -> HmacKeys:
        material = self._material
        return HmacKeys((*material.past_audit_keys, material.audit_key), "audit")

    def rotate_index_key(self) -> str:
        """Begin replacing the index key (or go on with a replacement already begun)."""

        def begin(current: KeyMaterial) -> KeyMaterial:
            return current if current.retiring_index_keys else current.with_new_index_key()

        self._change(begin)
        return self.index_keys.active_id

    def retire_index_keys(self, status_subkey: Callable[[bytes], bytes]) -> list[str]:
        """Drop the replaced index keys, keeping only what finds old slips' codes."""
        gone = self.index_keys.ids()[:-1]
        self._change(
            lambda current: current.without_retiring_index_keys(
                status_subkey(key) for key in current.retiring_index_keys
            )
        )
        return gone

    def rotate_audit_key(self) -> str:
        """A new audit key signs from now on; the old one stays, to verify the past."""
        self._change(lambda current: current.with_new_audit_key())
        return self.audit_keys.active_id

    @property
    def has_statistics_key(self) -> bool:
        return self._material.statistics_key is not None

    @property
    def statistics_key(self) -> bytes:
        """The key survivor codes are made with (never the index key, never a case key)."""
        key = self._material.statistics_key
        if key is None:
            raise KeyFileError("key file has no statistics key; run `flask --app wsgi keys init`")
        return key

    @property
    def statistics_key_id(self) -> str:
        return key_fingerprint(self.statistics_key, "statistics")

    @property
    def statistics_rotation_pending(self) -> bool:
        return bool(self._material.retiring_statistics_keys)

    def add_statistics_key(self) -> bool:
        """Give a key file from before survivor codes its statistics key (under the lock:
        another process may be changing the file). True when one was added."""
        before = self.has_statistics_key
        self._change(lambda current: current.with_statistics_key())
        return not before

    def rotate_statistics_key(self) -> str:
        """Begin replacing the statistics key (or go on with a replacement begun)."""

        def begin(current: KeyMaterial) -> KeyMaterial:
            if current.retiring_statistics_keys:
                return current
            return current.with_new_statistics_key()

        self._change(begin)
        return self.statistics_key_id

    def destroy_retiring_statistics_keys(self) -> int:
        """Drop the replaced statistics keys for good: no code they made can be made again."""
        gone = len(self._material.retiring_statistics_keys)
        self._change(lambda current: current.without_retiring_statistics_keys())
        return gone

    def rotate(self) -> str:
        """Add a new active KEK to the file and return its id."""
        material = self._change(lambda current: current.with_new_active_kek())
        return material.active_kek_id
