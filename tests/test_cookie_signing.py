"""Signed cookies use HMAC-SHA-256 (ASVS 11.4.1): the session cookie and the device
cookie the login throttle trusts. One signed the old way, with itsdangerous' default
HMAC-SHA-1 and the right secret key, is refused as if it were forged."""

from __future__ import annotations

import hashlib

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from app.auth.devices import DeviceProof, device_cookie_after_login, trusted_device
from app.auth.models import User
from app.extensions import db
from tests.auth_helpers import SESSION_COOKIE, is_signed_in, start_web_session


def _session_cookie(app, interface: SecureCookieSessionInterface, token: str) -> str:
    serializer = interface.get_signing_serializer(app)
    assert serializer is not None
    return str(serializer.dumps({"_user_id": token, "_fresh": True}))


def test_a_session_cookie_signed_with_sha1_is_refused_and_sha256_works(app, pnc):
    token = start_web_session(app, app.test_client(), pnc.username)
    sha1, sha256 = app.test_client(), app.test_client()
    sha1.set_cookie(SESSION_COOKIE, _session_cookie(app, SecureCookieSessionInterface(), token))
    sha256.set_cookie(SESSION_COOKIE, _session_cookie(app, app.session_interface, token))
    assert not is_signed_in(sha1), "HMAC-SHA-1 with the right key is still refused"
    assert is_signed_in(sha256)


def test_the_session_cookie_the_app_sets_is_signed_with_sha256(app, client, pnc):
    start_web_session(app, client, pnc.username)
    assert is_signed_in(client)
    cookie = client.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    sha256 = app.session_interface.get_signing_serializer(app)
    sha1 = SecureCookieSessionInterface().get_signing_serializer(app)
    assert sha256 is not None and sha1 is not None
    assert sha256.loads(cookie.value)["_user_id"]
    assert not _verifies(sha1, cookie.value)


def _verifies(serializer, value: str) -> bool:
    try:
        serializer.loads(value)
    except Exception:
        return False
    return True


def test_a_device_cookie_signed_with_sha1_is_not_trusted(app, pnc):
    key = app.config["SECRET_KEY"]
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == pnc.username)).scalar_one()
        genuine = device_cookie_after_login(DeviceProof(key, None), user)
        assert trusted_device(DeviceProof(key, genuine), user)
        entries = URLSafeSerializer(
            key, salt="ruta-device-cookie", signer_kwargs={"digest_method": hashlib.sha256}
        ).loads(genuine)
        old_way = URLSafeSerializer(key, salt="ruta-device-cookie").dumps(entries)
        assert trusted_device(DeviceProof(key, old_way), user) is None
