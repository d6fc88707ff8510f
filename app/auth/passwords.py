"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.core.errors import InvalidInput

MIN_LENGTH = 12
# Checked before hashing: an attacker's megabyte "password" must not cost us a megabyte hash.
MAX_LENGTH = 128

_hasher = PasswordHasher()
# Verified for unknown usernames so that they take as long as a wrong password.
_dummy_hash: str | None = None


def _dummy() -> str:
    """Made on first use, not at import: every CLI call would pay for it otherwise."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("ruta-dummy-password-for-timing")
    return _dummy_hash


def use_fast_hashing_for_tests() -> None:
    """Cheap argon2 parameters, for the test suite only (it creates thousands of users)."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    _dummy_hash = None


def check_password_rules(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(
            "password too short",
            {"password": [f"Use at least {MIN_LENGTH} characters."]},
        )
    if len(password) > MAX_LENGTH:
        raise InvalidInput(
            "password too long",
            {"password": [f"Use at most {MAX_LENGTH} characters."]},
        )


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-shape check: always runs one argon2 verification."""
    if len(password) > MAX_LENGTH:
        password, stored_hash = "", None  # refuse, but spend the same time doing so
    try:
        return _hasher.verify(stored_hash or _dummy(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def rehash_password(password: str) -> str:
    """A new hash for a password that just verified (its rules were checked when set)."""
    return _hasher.hash(password)


def hash_secret(secret: str) -> str:
    """argon2id for short secrets that are not passwords (the survivor's status PIN)."""
    return _hasher.hash(secret)


def verify_secret(stored_hash: str, secret: str) -> bool:
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
