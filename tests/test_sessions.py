"""Server-side sessions: whatever ends a login ends it everywhere, at once.

Logout, disabling, a password change and a role change each leave the browser holding
a cookie and a client holding a token; neither may work afterwards. Idle and absolute
timeouts hold even when the browser keeps the cookie.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.auth.models import ApiToken, User, UserSession
from app.auth.service import disable_user, find_user, set_role
from app.core.errors import InvalidInput
from app.core.time import utcnow
from app.extensions import db
from tests.auth_helpers import (
    SESSION_COOKIE,
    api_login,
    csrf_token,
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


# ---- an administrator ends sessions: one user's, or everyone's (ASVS 7.4.5) ------------


def _admin_browser(app, admin):
    browser = app.test_client()
    start_web_session(app, browser, admin.username)
    return browser


def test_admin_end_sessions_ends_her_web_session_and_token(app, client, admin, ana, bystander):
    start_web_session(app, client, "ana.pnc")
    old_cookie = session_cookie(client)
    assert is_signed_in(client) and _token_works(client, ana)
    browser = _admin_browser(app, admin)
    page = browser.get("/admin/users").get_data(as_text=True)
    ended = browser.post(
        f"/admin/users/{ana.id}", data={"action": "end_sessions", "csrf_token": csrf_token(page)}
    )
    assert ended.status_code == 302
    assert not _token_works(client, ana), "her old token is refused: 401"
    replay = app.test_client()
    replay.set_cookie(SESSION_COOKIE, old_cookie or "")
    response = replay.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    _assert_bystander_untouched(app, bystander)
    assert is_signed_in(browser), "the administrator's own session goes on"


def test_admin_page_ends_every_session_after_her_password(app, client, admin, ana, bystander):
    start_web_session(app, client, "ana.pnc")
    browser = _admin_browser(app, admin)
    page = browser.get("/admin/users").get_data(as_text=True)
    assert "Cerrar todas las sesiones" in page
    wrong = browser.post(
        "/admin/users/end-sessions",
        data={"csrf_token": csrf_token(page), "password": "not her password at all"},
    )
    assert wrong.status_code == 302 and wrong.headers["Location"].endswith("/admin/users")
    assert is_signed_in(client) and _token_works(client, ana), "nothing ended"
    _assert_bystander_untouched(app, bystander)
    ended = browser.post(
        "/admin/users/end-sessions", data={"csrf_token": csrf_token(page), "password": PASSWORD}
    )
    assert ended.status_code == 302 and ended.headers["Location"].endswith("/login")
    assert not is_signed_in(client) and not _token_works(client, ana)
    person, other_browser = bystander
    assert not _token_works(app.test_client(), person) and not is_signed_in(other_browser)
    assert not is_signed_in(browser), "hers too"
    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent.username).where(AuditEvent.detail == "end_sessions_all")
        ).scalars()
        assert list(rows) == [admin.username]


def test_cli_end_sessions_all_ends_every_session_and_token(app, client, ana, bystander):
    start_web_session(app, client, "ana.pnc")
    result = app.test_cli_runner().invoke(args=["users", "end-sessions", "--all"])
    assert result.exit_code == 0, result.output
    assert "ended the sessions of" in result.output
    assert not _token_works(client, ana) and not is_signed_in(client)
    person, browser = bystander
    assert not _token_works(app.test_client(), person) and not is_signed_in(browser)
    with app.app_context():
        details = db.session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == "user_update")
        ).scalars()
        assert "end_sessions_all" in list(details)
    # She signs in again as usual.
    assert web_login(client, "ana.pnc", PASSWORD, otp(ana.totp_secret)).status_code == 302
    assert is_signed_in(client)


def test_cli_end_sessions_of_one_user_leaves_the_others(app, client, ana, bystander):
    start_web_session(app, client, "ana.pnc")
    result = app.test_cli_runner().invoke(args=["users", "end-sessions", "ana.pnc"])
    assert result.exit_code == 0, result.output
    assert not _token_works(client, ana) and not is_signed_in(client)
    _assert_bystander_untouched(app, bystander)


@pytest.mark.parametrize("args", [[], ["ana.pnc", "--all"]])
def test_cli_end_sessions_needs_a_user_or_all_not_both(app, ana, args):
    result = app.test_cli_runner().invoke(args=["users", "end-sessions", *args])
    assert result.exit_code != 0
    assert _token_works(app.test_client(), ana)


# ---- at most RUTA_MAX_SESSIONS open logins per account (ASVS 7.1.2) ---------------------


def test_the_cap_is_five_by_default(app):
    assert app.config["RUTA_MAX_SESSIONS"] == 5


def test_a_sign_in_beyond_the_cap_ends_the_least_recently_used_session(app, ana, bystander):
    """Five browsers fill the cap; the sixth sign-in ends the browser used least
    recently. Her API token is not counted and keeps working."""
    browsers = [app.test_client() for _ in range(6)]
    for browser in browsers[:5]:
        _age_logins(app, ana.id, minutes=2)
        assert _sign_in(app, browser, ana).status_code == 302
    assert len(live_sessions(app, "ana.pnc")) == 5
    for browser, minutes_ago in zip(browsers[:5], (1, 5, 3, 4, 2), strict=True):
        _last_used(app, browser, minutes_ago)
    assert _sign_in(app, browsers[5], ana).status_code == 302
    assert not is_signed_in(browsers[1]), "the least recently used ended"
    assert all(is_signed_in(b) for b in (browsers[0], *browsers[2:]))
    assert _token_works(app.test_client(), ana), "API tokens are not capped"
    _forget_last_code(app, ana)
    answer = api_login(app.test_client(), "ana.pnc", PASSWORD, otp(ana.totp_secret))
    assert answer.status_code == 200, answer.get_json()
    assert len(live_sessions(app, "ana.pnc")) == 5, "a token sign-in ends no session"
    _assert_bystander_untouched(app, bystander)
    with app.app_context():
        capped = db.session.execute(
            select(AuditEvent.object_type).where(AuditEvent.detail == "session_cap")
        ).scalars()
        assert list(capped) == ["session"]


def test_a_lower_cap_is_held_too(app, ana):
    app.config["RUTA_MAX_SESSIONS"] = 1
    first, second = app.test_client(), app.test_client()
    assert _sign_in(app, first, ana).status_code == 302
    assert _sign_in(app, second, ana).status_code == 302
    assert not is_signed_in(first) and is_signed_in(second)
    assert _token_works(app.test_client(), ana)


def _sign_in(app, browser, person):
    _forget_last_code(app, person)
    return web_login(browser, person.username, PASSWORD, otp(person.totp_secret))


def _forget_last_code(app, person) -> None:
    """Let the current TOTP code serve again: these tests sign in many times a minute."""
    with app.app_context():
        db.session.execute(update(User).where(User.id == person.id).values(totp_last_step=0))
        db.session.commit()


def _last_used(app, browser, minutes_ago: int) -> None:
    with browser.session_transaction() as cookie:
        token = cookie["_user_id"]
    digest = hashlib.sha256(token.encode()).hexdigest()
    with app.app_context():
        db.session.execute(
            update(UserSession)
            .where(UserSession.token_hash == digest)
            .values(last_seen_at=utcnow() - timedelta(minutes=minutes_ago))
        )
        db.session.commit()


def _age_logins(app, user_id: int, minutes: int) -> None:
    """Move her logins' last use back, so that the order of use is certain."""
    back = timedelta(minutes=minutes)
    with app.app_context():
        for web in db.session.execute(
            select(UserSession).where(UserSession.user_id == user_id)
        ).scalars():
            web.last_seen_at -= back
        for token in db.session.execute(
            select(ApiToken).where(ApiToken.user_id == user_id)
        ).scalars():
            token.last_used_at = (token.last_used_at or token.created_at) - back
        db.session.commit()
