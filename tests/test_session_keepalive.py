"""The session that follows the person (issue 12, item 1), over HTTP: the keep-alive a
page sends while she types, the status a tab asks for without using the session, the
login page's word after an idle end, and where a sign-in returns to (never elsewhere).

CSRF stays on, as in production. The browser's side:
tests/browser/test_session_keepalive_browser.py.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select, update

from app.audit.models import AuditEvent
from app.auth.models import UserSession
from app.core.time import utcnow
from app.extensions import db
from tests.auth_helpers import csrf_token, is_signed_in, otp, start_web_session, web_login
from tests.conftest import PASSWORD

IDLE_END = "Su sesión se cerró por inactividad."


@pytest.fixture
def ana(make_person):
    return make_person("pnc_agent", "PNC-SON", "ana.pnc")


def _record(app, client) -> UserSession:
    with client.session_transaction() as cookie:
        token = cookie["_user_id"]
    with app.app_context():
        row = db.session.execute(
            select(UserSession).where(
                UserSession.token_hash == hashlib.sha256(token.encode()).hexdigest()
            )
        ).scalar_one()
        db.session.expunge(row)
        return row


def _unused_for(app, client, age: timedelta) -> None:
    row = _record(app, client)
    with app.app_context():
        db.session.execute(
            update(UserSession).where(UserSession.id == row.id).values(last_seen_at=utcnow() - age)
        )
        db.session.commit()


def _events(app) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


def _page_token(client) -> str:
    page = client.get("/")
    assert page.status_code == 200
    return csrf_token(page.get_data(as_text=True))


def _ping(client, token: str | None):
    headers = {"X-CSRFToken": token} if token else {}
    return client.post("/session/ping", headers=headers)


# ---- the keep-alive ---------------------------------------------------------------------


def test_ping_counts_the_session_as_used_now_and_says_how_long_is_left(app, client, ana):
    start_web_session(app, client, ana.username)
    token = _page_token(client)
    _unused_for(app, client, timedelta(minutes=25))
    answer = _ping(client, token)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["live"] is True and body["user"] == ana.id
    assert 30 * 60 - 5 <= body["seconds_left"] <= 30 * 60
    assert utcnow() - _record(app, client).last_seen_at < timedelta(seconds=5)
    # 25 + 25 minutes since the page: alive, because she was typing in between.
    _unused_for(app, client, timedelta(minutes=25))
    assert is_signed_in(client)


def test_ping_writes_nothing_to_the_audit_log(app, client, ana):
    start_web_session(app, client, ana.username)
    token = _page_token(client)
    before = _events(app)
    for _ in range(3):
        _unused_for(app, client, timedelta(minutes=2))
        assert _ping(client, token).status_code == 200
    assert _events(app) == before


def test_ping_without_the_csrf_token_is_refused_and_keeps_nothing(app, client, ana):
    start_web_session(app, client, ana.username)
    _page_token(client)
    _unused_for(app, client, timedelta(minutes=25))
    assert _ping(client, None).status_code == 400
    assert utcnow() - _record(app, client).last_seen_at >= timedelta(minutes=25)


def test_ping_without_a_session_is_401(client):
    page = client.get("/login")
    answer = _ping(client, csrf_token(page.get_data(as_text=True)))
    assert answer.status_code == 401
    assert answer.get_json()["error"] == "session_ended"


def test_ping_after_the_idle_end_is_401_and_does_not_revive_the_session(app, client, ana):
    cookie_id = start_web_session(app, client, ana.username)
    token = _page_token(client)
    _unused_for(app, client, timedelta(minutes=31))
    answer = _ping(client, token)
    assert answer.status_code == 401
    assert answer.headers["Content-Type"].startswith("application/json")
    with app.app_context():
        rows = db.session.execute(select(UserSession)).scalars().all()
        assert [row.ended_at is not None for row in rows] == [True]
        # Even "used" since, and named by the browser again, it stays over.
        db.session.execute(update(UserSession).values(last_seen_at=utcnow()))
        db.session.commit()
    with client.session_transaction() as cookie:
        cookie["_user_id"] = cookie_id
    assert client.get("/session/status").status_code == 401
    assert _ping(client, client.get("/session/status").get_json()["csrf_token"]).status_code == 401
    assert not is_signed_in(client)


# ---- the status a tab asks for before it warns or locks ------------------------------


def test_status_tells_the_time_left_without_using_the_session(app, client, ana):
    start_web_session(app, client, ana.username)
    _page_token(client)
    _unused_for(app, client, timedelta(minutes=20))
    before = _events(app)
    answer = client.get("/session/status")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["live"] is True and body["user"] == ana.id and body["restricted"] is False
    assert 10 * 60 - 5 <= body["seconds_left"] <= 10 * 60
    # Asking is not using: an abandoned PC whose tabs ask still reaches its end.
    assert utcnow() - _record(app, client).last_seen_at >= timedelta(minutes=20)
    assert _events(app) == before
    _unused_for(app, client, timedelta(minutes=31))
    ended = client.get("/session/status")
    assert ended.status_code == 401 and ended.get_json()["live"] is False


def test_status_hands_a_csrf_token_the_login_form_takes(app, client, ana):
    """The sign-in panel of a page whose session ended posts to the real /login."""
    start_web_session(app, client, ana.username)
    _unused_for(app, client, timedelta(minutes=31))
    assert _ping(client, "stale").status_code in (400, 401)
    token = client.get("/session/status").get_json()["csrf_token"]
    answer = client.post(
        "/login?next=/session/status",
        data={
            "username": ana.username,
            "password": PASSWORD,
            "otp": otp(ana.totp_secret),
            "csrf_token": token,
        },
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/session/status"
    state = client.get("/session/status").get_json()
    assert state["live"] is True and state["user"] == ana.id


def test_the_panel_login_keeps_the_login_protections(app, client, ana):
    """A wrong password through the panel's address is the login's own refusal, audited."""
    start_web_session(app, client, ana.username)
    _unused_for(app, client, timedelta(minutes=31))
    token = client.get("/session/status").get_json()["csrf_token"]
    answer = client.post(
        "/login?next=/session/status",
        data={"username": ana.username, "password": "wrong", "otp": "", "csrf_token": token},
    )
    assert answer.status_code == 401
    assert "Usuario, contraseña o código incorrectos." in answer.get_data(as_text=True)
    with app.app_context():
        actions = db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars()
        assert list(actions)[-1] == "login_failed"


def test_pages_carry_the_session_clock_and_the_login_page_does_not(app, client, ana):
    start_web_session(app, client, ana.username)
    html = client.get("/").get_data(as_text=True)
    assert 'data-session-ping="/session/ping"' in html
    left = re.search(r'data-session-left="(\d+)"', html)
    assert left and 1790 <= int(left.group(1)) <= 1800
    assert 'data-session-login="/login?next=/session/status"' in html
    assert f'data-session-user="{ana.id}"' in html
    assert 'id="session-lock-template"' in html and "Seguir trabajando" in html
    stranger = app.test_client().get("/login").get_data(as_text=True)
    assert "data-session-" not in stranger and "js/ruta.js" not in stranger


def test_a_short_idle_time_is_kept_by_the_pages_too(app, client, ana):
    """With an idle time under ten minutes, a page asked for counts as use even within
    the minute in which longer sessions skip the write."""
    app.config["RUTA_IDLE_TIMEOUT"] = timedelta(seconds=20)
    start_web_session(app, client, ana.username)
    _unused_for(app, client, timedelta(seconds=10))
    assert is_signed_in(client)
    assert utcnow() - _record(app, client).last_seen_at < timedelta(seconds=5)


# ---- the login page after an idle end, and where a sign-in returns to -----------------


def _login_target(response) -> tuple[str, str | None]:
    assert response.status_code == 302, response.status_code
    where = urlsplit(response.headers["Location"])
    nexts = parse_qs(where.query).get("next")
    return where.path, nexts[0] if nexts else None


def test_a_page_after_the_idle_end_goes_to_login_which_says_why(app, client, ana):
    start_web_session(app, client, ana.username)
    _unused_for(app, client, timedelta(minutes=31))
    assert _login_target(client.get("/cases/new")) == ("/login", "/cases/new")
    page = client.get("/login?next=/cases/new").get_data(as_text=True)
    assert IDLE_END in page
    # Said once: the next visit to the login page is a plain one.
    assert IDLE_END not in client.get("/login").get_data(as_text=True)


def test_a_logout_is_not_called_inactivity(app, client, ana):
    start_web_session(app, client, ana.username)
    client.post("/logout", data={"csrf_token": _page_token(client)})
    assert _login_target(client.get("/cases/new")) == ("/login", "/cases/new")
    assert IDLE_END not in client.get("/login").get_data(as_text=True)


def test_a_form_posted_after_the_idle_end_returns_to_its_page_not_to_the_post(app, client, ana):
    start_web_session(app, client, ana.username)
    token = _page_token(client)
    _unused_for(app, client, timedelta(minutes=31))
    case_id = str(uuid.uuid4())
    posted = client.post(f"/cases/{case_id}/notes", data={"csrf_token": token, "text": "x"})
    assert _login_target(posted) == ("/login", f"/cases/{case_id}")
    assert IDLE_END in client.get("/login").get_data(as_text=True)


CASE, FOLLOW_UP = uuid.UUID(int=7), uuid.UUID(int=8)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/cases/new", "/cases/new"),  # a page that is also its form's target
        (f"/cases/{CASE}/follow-ups/{FOLLOW_UP}/outcome", f"/cases/{CASE}"),
        ("/logout", None),  # the dashboard
    ],
)
def test_where_a_posted_form_returns(app, client, ana, path, expected):
    start_web_session(app, client, ana.username)
    token = _page_token(client)
    _unused_for(app, client, timedelta(minutes=31))
    assert _login_target(client.post(path, data={"csrf_token": token})) == ("/login", expected)


def test_sign_in_returns_to_the_page_she_was_on(app, client, ana):
    answer = web_login(client, ana.username, PASSWORD, otp(ana.totp_secret), "/cases/new")
    assert answer.status_code == 302 and answer.headers["Location"] == "/cases/new"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/login",
        "//evil.example/login",
        "/\\evil.example/login",
        "/\\/evil.example",
        "/%5Cevil.example",
        "/\t/evil.example",
        " //evil.example",
        "javascript:alert(1)",
        "/cases?dui=12345678-4",  # no identifier rides in a URL, not even back home
        "/cases/new?given_names=Mar%C3%ADa",
        "/no-such-page",
        "/logout",
        "/session/ping",
        "/api/v1/cases",
        "/static/js/ruta.js",
    ],
)
def test_sign_in_never_follows_a_next_outside_the_pages(app, client, ana, target):
    answer = web_login(client, ana.username, PASSWORD, otp(ana.totp_secret), target)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"
