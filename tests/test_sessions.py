"""Server-side sessions: whatever ends a login ends it everywhere, at once.

Logout, disabling, a password change and a role change each leave the browser holding
a cookie and a client holding a token; neither may work afterwards. Idle and absolute
timeouts hold even when the browser keeps the cookie.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.auth.models import ApiToken, User, UserSession
from app.auth.service import disable_user, find_user, set_role
from app.core.errors import InvalidInput
from app.core.time import utcnow
from app.extensions import db
from tests.auth_helpers import (
    SESSION_COOKIE,
    is_signed_in,
    live_sessions,
    otp,
    post_form,
    session_cookie,
    start_web_session,
    web_login,
    web_logout,
)
from tests.conftest import PASSWORD

API_PROBE = "/api/v1/institutions"


@pytest.fixture
def ana(make_person):
    return make_person("pnc_agent", "PNC-SON", "ana.pnc")


@pytest.fixture
def bystander(app, make_person):
    """Another user with a token and a web session, who must be left alone."""
    person = make_person("health_staff", "US-SON", "beto.salud")
    browser = app.test_client()
    start_web_session(app, browser, person.username)
    return person, browser


def _token_works(client, person) -> bool:
    status = client.get(API_PROBE, headers=person.headers).status_code
    assert status in (200, 401), status
    return status == 200


def _assert_bystander_untouched(app, bystander) -> None:
    person, browser = bystander
    assert _token_works(app.test_client(), person)
    assert is_signed_in(browser)


def test_logout_ends_the_server_session(app, client, ana):
    assert web_login(client, "ana.pnc", PASSWORD, otp(ana.totp_secret)).status_code == 302
    assert is_signed_in(client)
    stolen_cookie = session_cookie(client)
    assert web_logout(client).status_code == 302
    assert not is_signed_in(client)
    assert live_sessions(app, "ana.pnc") == []
    # Replaying the cookie the browser held before logging out gets nothing.
    replay = app.test_client()
    replay.set_cookie(SESSION_COOKIE, stolen_cookie)
    assert not is_signed_in(replay)


def test_logout_without_the_csrf_token_does_nothing(app, client, ana):
    """A page on another site cannot log the user out (or probe her session)."""
    start_web_session(app, client, "ana.pnc")
    assert client.post("/logout").status_code == 400
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert is_signed_in(client)


def test_disabling_a_user_ends_her_token_and_web_session_at_once(app, client, ana, bystander):
    start_web_session(app, client, "ana.pnc")
    assert is_signed_in(client) and _token_works(client, ana)
    with app.app_context():
        disable_user(find_user(db.session, "ana.pnc"))
        db.session.commit()
    assert not _token_works(client, ana)
    assert not is_signed_in(client)
    _assert_bystander_untouched(app, bystander)


def test_cli_users_disable_ends_her_token_and_web_session(app, client, ana, bystander):
    start_web_session(app, client, "ana.pnc")
    assert is_signed_in(client)
    result = app.test_cli_runner().invoke(args=["users", "disable", "ana.pnc"])
    assert result.exit_code == 0, result.output
    assert not _token_works(client, ana)
    assert not is_signed_in(client)
    _assert_bystander_untouched(app, bystander)


def test_disabled_user_cannot_log_in_again(app, client, ana):
    with app.app_context():
        disable_user(find_user(db.session, "ana.pnc"))
        db.session.commit()
    response = web_login(client, "ana.pnc", PASSWORD, otp(ana.totp_secret))
    assert response.status_code == 401
    assert not is_signed_in(client)


def test_password_change_ends_other_sessions_and_tokens(app, ana, bystander):
    laptop, phone = app.test_client(), app.test_client()
    start_web_session(app, laptop, "ana.pnc")
    assert web_login(phone, "ana.pnc", PASSWORD, otp(ana.totp_secret)).status_code == 302
    cookie_before_change = session_cookie(phone)
    changed = post_form(
        phone,
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "otra frase muy larga",
            "confirm": "otra frase muy larga",
        },
    )
    assert changed.status_code == 302
    assert is_signed_in(phone), "the session that changed the password goes on"
    assert not is_signed_in(laptop)
    assert not _token_works(phone, ana)
    # The changing browser got a new session; its old cookie is as dead as the laptop's.
    replay = app.test_client()
    replay.set_cookie(SESSION_COOKIE, cookie_before_change)
    assert not is_signed_in(replay)
    _assert_bystander_untouched(app, bystander)


def test_failed_password_change_ends_nothing(app, ana):
    laptop, phone = app.test_client(), app.test_client()
    start_web_session(app, laptop, "ana.pnc")
    start_web_session(app, phone, "ana.pnc")
    refused = post_form(
        phone,
        "/account/password",
        {
            "current_password": "not the password at all",
            "new_password": "otra frase muy larga",
            "confirm": "otra frase muy larga",
        },
    )
    assert refused.status_code == 200
    assert is_signed_in(laptop) and is_signed_in(phone) and _token_works(phone, ana)


def test_role_change_ends_sessions_and_tokens(app, client, ana, bystander):
    start_web_session(app, client, "ana.pnc")
    with app.app_context():
        set_role(db.session, find_user(db.session, "ana.pnc"), "supervisor")
        db.session.commit()
    assert not _token_works(client, ana)
    assert not is_signed_in(client)
    _assert_bystander_untouched(app, bystander)


def test_refused_role_change_ends_nothing(app, client, ana):
    start_web_session(app, client, "ana.pnc")
    with app.app_context(), pytest.raises(InvalidInput):
        set_role(db.session, find_user(db.session, "ana.pnc"), "admin")  # not at a PNC unit
    assert _token_works(client, ana) and is_signed_in(client)


def _age_sessions(app, username: str, **ages: timedelta) -> None:
    now = utcnow()
    with app.app_context():
        user_id = db.session.execute(select(User.id).where(User.username == username)).scalar_one()
        db.session.execute(
            update(UserSession)
            .where(UserSession.user_id == user_id)
            .values({name: now - age for name, age in ages.items()})
        )
        db.session.commit()


def test_session_survives_29_idle_minutes(app, client, ana):
    start_web_session(app, client, "ana.pnc")
    _age_sessions(app, "ana.pnc", last_seen_at=timedelta(minutes=29))
    assert is_signed_in(client)


def test_idle_timeout_logs_out(app, client, ana):
    start_web_session(app, client, "ana.pnc")
    _age_sessions(app, "ana.pnc", last_seen_at=timedelta(minutes=31))
    assert not is_signed_in(client)
    assert live_sessions(app, "ana.pnc") == []
    # Activity afterwards does not bring an ended session back.
    _age_sessions(app, "ana.pnc", last_seen_at=timedelta(0))
    assert not is_signed_in(client)


def test_absolute_timeout_logs_out_an_active_session(app, client, ana):
    start_web_session(app, client, "ana.pnc")
    _age_sessions(
        app, "ana.pnc", created_at=timedelta(hours=12, minutes=1), last_seen_at=timedelta(seconds=5)
    )
    assert not is_signed_in(client)
    assert live_sessions(app, "ana.pnc") == []


def test_session_of_eleven_hours_still_works(app, client, ana):
    start_web_session(app, client, "ana.pnc")
    _age_sessions(
        app,
        "ana.pnc",
        created_at=timedelta(hours=11, minutes=50),
        last_seen_at=timedelta(minutes=5),
    )
    assert is_signed_in(client)


def test_session_cookie_is_httponly_and_samesite_strict(client, ana):
    response = web_login(client, "ana.pnc", PASSWORD, otp(ana.totp_secret))
    assert response.status_code == 302
    cookies = [
        c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{SESSION_COOKIE}=")
    ]
    assert cookies, "login sets the session cookie"
    for cookie in cookies:
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert "httponly" in flags, cookie
        assert "samesite=strict" in flags, cookie
        assert not any(
            flag.startswith("expires=") or flag.startswith("max-age=") for flag in flags
        ), "a browser-session cookie, not a lasting one"


def test_cookie_carries_only_a_random_id(app, client, ana):
    """The signed cookie names a server session; it holds no user id or role to forge."""
    start_web_session(app, client, "ana.pnc")
    with client.session_transaction() as session:
        session["_user_id"] = str(ana.id)  # what a user-id cookie scheme would hold
    assert not is_signed_in(client)


def test_expired_api_token_is_refused(app, client, ana):
    with app.app_context():
        db.session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert not _token_works(client, ana)
