"""Web and API login with MFA required and CSRF on: one generic failure, no replay,
a fresh session at login, forced first-login setup, no open redirect, safe headers."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from app.auth import totp
from app.auth.service import create_user, disable_user, find_user
from app.crypto.service import get_keyring
from app.extensions import db
from tests.auth_helpers import (
    GENERIC_LOGIN_ERROR,
    api_login,
    csrf_token,
    is_signed_in,
    live_sessions,
    otp,
    post_form,
    session_cookie,
    web_login,
    web_logout,
)
from tests.conftest import PASSWORD, make_settings

NEW_PASSWORD = "una frase nueva y larga"


@pytest.fixture
def settings(tmp_path, database_url):
    """This file runs as production does: every login needs a TOTP code."""
    return make_settings(tmp_path, database_url, require_mfa=True)


@pytest.fixture
def ana(make_person):
    return make_person("pnc_agent", "PNC-SON", "ana.pnc")


def _comparable(html: str) -> str:
    """The page without its per-request values (CSRF token, echoed username)."""
    return re.sub(r'value="[^"]*"', 'value=""', html)


def test_wrong_password_unknown_user_and_wrong_code_get_the_same_page(app, ana):
    attempts = {
        "wrong password": ("ana.pnc", "not the password at all", otp(ana.totp_secret)),
        "unknown user": ("nadie.pnc", PASSWORD, otp(ana.totp_secret)),
        "wrong code": (
            "ana.pnc",
            PASSWORD,
            "000000" if otp(ana.totp_secret) != "000000" else "111111",
        ),
        "no code": ("ana.pnc", PASSWORD, None),
    }
    pages = {}
    for label, (username, password, code) in attempts.items():
        client = app.test_client()
        response = web_login(client, username, password, code)
        assert response.status_code == 401, label
        body = response.get_data(as_text=True)
        assert GENERIC_LOGIN_ERROR in body, label
        pages[label] = _comparable(body)
        assert not is_signed_in(client), label
    assert len(set(pages.values())) == 1, "the pages differ: they tell which part was wrong"
    assert live_sessions(app, "ana.pnc") == []


def test_api_login_failures_are_indistinguishable(app, client, ana):
    with app.app_context():
        ring = get_keyring()
        create_user(
            db.session,
            ring,
            username="baja.pnc",
            institution_code="PNC-SON",
            role="pnc_agent",
            password=PASSWORD,
        )
        disable_user(find_user(db.session, "baja.pnc"))
        db.session.commit()
    answers = [
        api_login(client, "ana.pnc", "not the password at all", otp(ana.totp_secret)),
        api_login(client, "nadie.pnc", PASSWORD, "123456"),
        api_login(
            client, "ana.pnc", PASSWORD, "999999" if otp(ana.totp_secret) != "999999" else "888888"
        ),
        api_login(client, "ana.pnc", PASSWORD),
        api_login(client, "baja.pnc", PASSWORD),
    ]
    assert [answer.status_code for answer in answers] == [401] * len(answers)
    assert len({answer.get_data() for answer in answers}) == 1


def test_right_password_without_a_code_gives_no_session(app, client, ana):
    response = web_login(client, "ana.pnc", PASSWORD)
    assert response.status_code == 401
    assert not is_signed_in(client)
    assert api_login(client, "ana.pnc", PASSWORD).status_code == 401
    assert live_sessions(app, "ana.pnc") == []
    # The same account with its code does get in: the refusal was about the code.
    assert web_login(client, "ana.pnc", PASSWORD, otp(ana.totp_secret)).status_code == 302
    assert is_signed_in(client)


def test_replayed_totp_code_is_refused_on_the_web(app, client, ana):
    code = otp(ana.totp_secret)
    assert web_login(client, "ana.pnc", PASSWORD, code).status_code == 302
    web_logout(client)
    replay = web_login(client, "ana.pnc", PASSWORD, code)
    assert replay.status_code == 401
    assert GENERIC_LOGIN_ERROR in replay.get_data(as_text=True)
    assert not is_signed_in(client)


def test_replayed_totp_code_is_refused_by_the_api(client, ana):
    code = otp(ana.totp_secret, steps_ahead=1)
    assert api_login(client, "ana.pnc", PASSWORD, code).status_code == 200
    assert api_login(client, "ana.pnc", PASSWORD, code).status_code == 401
    # Next step: her new code works; the one before it is refused.
    newer = otp(ana.totp_secret, steps_ahead=1)
    assert api_login(client, "ana.pnc", PASSWORD, code).status_code == 401
    assert api_login(client, "ana.pnc", PASSWORD, newer).status_code == 200


def test_login_gives_a_new_session(app, client, ana):
    client.get("/login")
    with client.session_transaction() as before:
        before["planted"] = "by an attacker"
        planted_csrf = before.get("csrf_token")
    cookie_before = session_cookie(client)
    assert cookie_before and planted_csrf
    assert web_login(client, "ana.pnc", PASSWORD, otp(ana.totp_secret)).status_code == 302
    cookie_after = session_cookie(client)
    assert cookie_after and cookie_after != cookie_before
    with client.session_transaction() as after:
        assert "planted" not in after
        assert after.get("csrf_token") != planted_csrf
        first_id = after["_user_id"]
    web_logout(client)
    assert (
        web_login(client, "ana.pnc", PASSWORD, otp(ana.totp_secret, steps_ahead=1)).status_code
        == 302
    )
    with client.session_transaction() as again:
        assert again["_user_id"] != first_id


def test_login_refuses_a_csrf_token_from_another_session(app, ana):
    attacker = app.test_client()
    stolen = csrf_token(attacker.get("/login").get_data(as_text=True))
    victim = app.test_client()
    victim.get("/login")
    response = victim.post(
        "/login",
        data={
            "username": "ana.pnc",
            "password": PASSWORD,
            "otp": otp(ana.totp_secret),
            "csrf_token": stolen,
        },
    )
    assert response.status_code == 400
    assert not is_signed_in(victim)


@pytest.fixture
def newcomer(app):
    """An account made by an administrator: one-time password, TOTP not enrolled."""
    with app.app_context():
        new = create_user(
            db.session,
            get_keyring(),
            username="nueva.umm",
            institution_code="UMM-SON",
            role="womens_office",
            password=None,
        )
        db.session.commit()
        return new.one_time_password, new.totp_secret


def _no_external_urls(html: str) -> None:
    urls = set(re.findall(r"(?:https?:)?//[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg", "//www.w3.org/2000/svg"}, urls


def test_new_user_is_forced_through_password_change_and_totp_enrolment(app, client, newcomer):
    one_time, secret = newcomer
    first = web_login(client, "nueva.umm", one_time, next_url="/")
    assert first.status_code == 302
    assert first.headers["Location"].endswith("/account/password")
    blocked = client.get("/")
    assert blocked.status_code == 302
    assert blocked.headers["Location"].endswith("/account/password")

    changed = post_form(
        client,
        "/account/password",
        {"current_password": one_time, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert changed.status_code == 302
    assert changed.headers["Location"].endswith("/account/totp")
    blocked = client.get("/")
    assert blocked.status_code == 302 and blocked.headers["Location"].endswith("/account/totp")

    page = client.get("/account/totp")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<svg" in html and "<path" in html, "the QR code is drawn in the page"
    assert secret in html
    _no_external_urls(html)
    assert "otpauth://" not in html.replace("<svg", ""), "the secret URI is not left as a link"

    wrong = post_form(
        client, "/account/totp", {"otp": "000000" if otp(secret) != "000000" else "111111"}
    )
    assert wrong.status_code == 200
    assert client.get("/").status_code == 302
    enrolled = post_form(client, "/account/totp", {"otp": otp(secret)})
    assert enrolled.status_code == 302
    assert is_signed_in(client)
    # From now on the API takes her too, with the new password and a fresh code.
    token = api_login(client, "nueva.umm", NEW_PASSWORD, otp(secret, steps_ahead=1))
    assert token.status_code == 200


def test_api_refuses_a_user_who_has_not_finished_setup(app, client, newcomer):
    one_time, secret = newcomer
    refused = api_login(client, "nueva.umm", one_time)
    wrong = api_login(client, "nueva.umm", "not the one time password")
    assert refused.status_code == 401
    assert refused.get_data() == wrong.get_data()
    # Password changed on the web, but TOTP not enrolled yet: still no token.
    assert web_login(client, "nueva.umm", one_time).status_code == 302
    post_form(
        client,
        "/account/password",
        {"current_password": one_time, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert api_login(client, "nueva.umm", NEW_PASSWORD, otp(secret)).status_code == 401


def test_one_time_password_stops_working_once_changed(app, client, newcomer):
    one_time, _secret = newcomer
    assert web_login(client, "nueva.umm", one_time).status_code == 302
    post_form(
        client,
        "/account/password",
        {"current_password": one_time, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    other = app.test_client()
    assert web_login(other, "nueva.umm", one_time).status_code == 401


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/login",
        "https://evil.example/",
        "http:evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
    ],
)
def test_open_redirect_after_login_is_refused(client, ana, target):
    response = web_login(client, "ana.pnc", PASSWORD, otp(ana.totp_secret), next_url=target)
    assert response.status_code == 302
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert parts.scheme in ("", "http") and parts.netloc in ("", "localhost"), location
    assert location.startswith("/") and not location.startswith("//"), location
    assert "\\" not in location and "\t" not in location, location


def test_next_within_the_site_is_followed(client, ana):
    response = web_login(
        client, "ana.pnc", PASSWORD, otp(ana.totp_secret), next_url="/account/password"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/password"


def _assert_security_headers(response) -> None:
    headers = response.headers
    assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy") in ("no-referrer", "same-origin", "strict-origin")
    assert "no-store" in headers.get("Cache-Control", "")


def test_security_headers_on_pages(client, ana):
    _assert_security_headers(client.get("/login"))
    _assert_security_headers(client.get("/no-such-page"))
    failed = web_login(client, "ana.pnc", "not the password at all", "123456")
    _assert_security_headers(failed)
    signed_in = web_login(client, "ana.pnc", PASSWORD, otp(ana.totp_secret))
    _assert_security_headers(signed_in)
    for path in ("/", "/account/password"):
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_security_headers(response)


NOW = 1_800_000_015.0  # a fixed instant, 15 s into its 30-second step


@pytest.mark.parametrize(("offset", "accepted"), [(-2, False), (-1, False), (0, True), (1, False)])
def test_totp_accepts_only_the_current_steps_code(offset, accepted):
    """ASVS 6.5.5: a code lives at most 30 seconds, its own step; no drift window."""
    secret = totp.new_secret()
    code = totp.current_code(secret, NOW + offset * totp.STEP_SECONDS)
    step = totp.accepted_step(secret, code, last_step=0, now=NOW)
    assert (step is not None) is accepted
    if accepted:
        assert step == int(NOW // totp.STEP_SECONDS)


def test_a_totp_code_stops_working_when_its_30_seconds_end():
    secret = totp.new_secret()
    start = (NOW // totp.STEP_SECONDS) * totp.STEP_SECONDS  # the step's first second
    code = totp.current_code(secret, start)
    assert totp.accepted_step(secret, code, last_step=0, now=start) is not None
    assert totp.accepted_step(secret, code, last_step=0, now=start + 29.9) is not None
    assert totp.accepted_step(secret, code, last_step=0, now=start + 30) is None
    assert totp.accepted_step(secret, code, last_step=0, now=start - 0.1) is None


def test_totp_code_at_or_before_the_last_accepted_step_is_a_replay():
    secret = totp.new_secret()
    current = int(NOW // totp.STEP_SECONDS)
    code = totp.current_code(secret, NOW)
    assert totp.accepted_step(secret, code, last_step=current, now=NOW) is None
    assert totp.accepted_step(secret, code, last_step=current + 1, now=NOW) is None
    assert totp.accepted_step(secret, code, last_step=current - 1, now=NOW) == current


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "12 34 5"])
def test_malformed_totp_codes_are_refused(code):
    assert totp.accepted_step(totp.new_secret(), code, last_step=0, now=NOW) is None


def test_a_password_hashed_with_weaker_parameters_is_rehashed_at_login(app, client, make_person):
    from argon2 import PasswordHasher

    person = make_person("pnc_agent", "PNC-SON")
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, hash_len=16).hash(PASSWORD)
    with app.app_context():
        user = find_user(db.session, person.username)
        user.password_hash = weak
        db.session.commit()
    response = api_login(client, person.username, PASSWORD, otp(person.totp_secret))
    assert response.status_code == 200
    with app.app_context():
        stored = find_user(db.session, person.username).password_hash
    assert stored != weak and stored.startswith("$argon2id$")
