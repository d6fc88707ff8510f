"""The places a user signed in from before, which the login throttle trusts.

Pages: a device cookie, issued at each successful login, signed (HMAC-SHA-256) with the app's
secret key, naming the user and a random device id; it lives long (180 days). One
browser may be shared (a health unit's front desk): the cookie holds a few users' entries.
API: the addresses of her earlier successful token logins.

Threat: a forged cookie would skip the account lock: it is signed, each entry expires,
and an account recovery (a lost phone or laptop) makes older entries worthless. A stolen
genuine cookie gets its own small failure counter (app/auth/throttle.py), nothing more.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.auth.models import KnownAddress, User
from app.core.db import DbSession
from app.core.http import COOKIE_DIGEST
from app.core.time import utcnow

DEVICE_COOKIE_DAYS = 180
USERS_PER_DEVICE = 5
_SALT = "ruta-device-cookie"
# An address she has not used for this long is no longer hers to be trusted.
KNOWN_ADDRESS_DAYS = 90
COOKIE_MAX_LENGTH = 2000


@dataclass(frozen=True)
class DeviceProof:
    """What a browser shows: the cookie, and the key that must have signed it."""

    secret_key: str
    cookie: str | None


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=_SALT, signer_kwargs={"digest_method": COOKIE_DIGEST})


def _entries(proof: DeviceProof) -> list[dict[str, Any]]:
    """The cookie's live entries ({"u": username, "d": device id, "t": issued}), or none."""
    if not proof.cookie or len(proof.cookie) > COOKIE_MAX_LENGTH:
        return []
    try:
        data = _serializer(proof.secret_key).loads(proof.cookie)
    except BadSignature:
        return []
    oldest = time.time() - DEVICE_COOKIE_DAYS * 86400
    if not isinstance(data, list):
        return []
    return [
        e
        for e in data
        if isinstance(e, dict)
        and isinstance(e.get("u"), str)
        and isinstance(e.get("d"), str)
        and isinstance(e.get("t"), int | float)
        and e["t"] > oldest
    ][:USERS_PER_DEVICE]


def trusted_device(proof: DeviceProof | None, user: User) -> str | None:
    """The id of her device, when this browser's cookie names her and is still trusted."""
    if proof is None:
        return None
    since = user.trusted_devices_since.timestamp() if user.trusted_devices_since else 0
    for entry in _entries(proof):
        if entry["u"] == user.username and entry["t"] > since:
            return str(entry["d"])
    return None


def device_cookie_after_login(proof: DeviceProof, user: User) -> str:
    """The cookie to hand back: her entry first (its id kept if it was trusted), renewed."""
    device_id = trusted_device(proof, user) or secrets.token_urlsafe(16)
    others = [e for e in _entries(proof) if e["u"] != user.username]
    entry = {"u": user.username, "d": device_id, "t": int(time.time())}
    return _serializer(proof.secret_key).dumps([entry, *others][:USERS_PER_DEVICE])


def known_address(session: DbSession, user: User, ip: str) -> bool:
    cutoff = utcnow() - timedelta(days=KNOWN_ADDRESS_DAYS)
    stmt = select(KnownAddress.id).where(
        KnownAddress.user_id == user.id,
        KnownAddress.ip == ip,
        KnownAddress.last_seen_at > cutoff,
    )
    return session.execute(stmt).first() is not None


def remember_address(session: DbSession, user: User, ip: str) -> None:
    """After a successful token login: this address is hers from now on."""
    row = session.execute(
        select(KnownAddress).where(KnownAddress.user_id == user.id, KnownAddress.ip == ip)
    ).scalar_one_or_none()
    if row is not None:
        row.last_seen_at = utcnow()
        return
    try:
        with session.begin_nested():  # two logins at once from a new address: one row
            session.add(KnownAddress(user_id=user.id, ip=ip[:45]))
    except IntegrityError:
        pass  # the other login wrote it


def forget_places(session: DbSession, user: User) -> None:
    """A recovery: her old devices and addresses are no longer trusted."""
    user.trusted_devices_since = utcnow()
    session.execute(delete(KnownAddress).where(KnownAddress.user_id == user.id))
