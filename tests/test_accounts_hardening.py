"""Account hardening (issue 15): passwords hard to guess, one-time passwords that expire,
a recovery path that takes two people, tokens that end, "Mis sesiones", and a login
throttle that an attacker cannot turn against the user it protects."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.auth.devices import DeviceProof, device_cookie_after_login, trusted_device
from app.auth.models import AccountRecovery, ApiToken, KnownAddress, User, UserSession
from app.auth.passwords import check_new_password
from app.auth.service import create_user, find_user
from app.auth.throttle import FAILURES_PER_PAIR, FAILURES_PER_TRUSTED
from app.core.errors import InvalidInput
from app.core.time import utcnow
from app.crypto.service import get_keyring
from app.extensions import db, limiter
from tests.auth_helpers import (
    api_login,
    client_at,
    csrf_token,
    device_cookie,
    is_signed_in,
    otp,
    post_form,
    start_web_session,
    web_login,
)
from tests.conftest import PASSWORD, make_settings

WRONG = "not the password at all"
NEW_PASSWORD = "tortuga lenta bajo el volcán"
EXPIRED = "Su contraseña temporal venció; pida una nueva al administrador"
CREATE_ROSA = ["users", "create", "rosa.pnc", "--institution", "PNC-SON", "--role", "pnc_agent"]
CREATE_ROSA += ["--password-stdin"]


@pytest.fixture
def settings(tmp_path, database_url):
    """As production runs: every login needs a TOTP code."""
    return make_settings(tmp_path, database_url, require_mfa=True)


@pytest.fixture(autouse=True)
def fresh_limits(app):
    with app.app_context():
        limiter.reset()


@pytest.fixture
def ana(make_person):
    return make_person("pnc_agent", "PNC-SON", "ana.pnc")


def _events(app, action: str) -> list[tuple[str | None, str | None]]:
    """(object_type, object_id) of each audit event of `action`, oldest first."""
    with app.app_context():
        stmt = (
            select(AuditEvent.object_type, AuditEvent.object_id)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
        return [tuple(row) for row in db.session.execute(stmt).all()]


def _details(app, action: str) -> list[str | None]:
    with app.app_context():
        stmt = select(AuditEvent.detail).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(db.session.execute(stmt).scalars())


# ---- passwords -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("123456789012", "contraseñas más usadas"),
        ("sonsonate2026", "lugar de la red"),
        ("agente.lopez", "nombre de usuario"),
        ("Agente.Lopez2026", "nombre de usuario"),
        ("qwertyuiopasdf", "fácil de adivinar"),
        ("aaaaaaaaaaaaaaa", "fácil de adivinar"),
        ("pnc-son pnc-son", "fácil de adivinar"),
    ],
)
def test_guessable_passwords_are_refused_with_a_reason_and_advice(password, why):
    with pytest.raises(InvalidInput) as refused:
        check_new_password(
            password,
            username="agente.lopez",
            display_name="Rosa López",
            institution_code="PNC-SON",
            institution_name="Unidad de Familia PNC Sonsonate",
        )
    message = refused.value.fields["password"][0]
    assert why in message
    assert "frase de cuatro o más palabras" in message


@pytest.mark.parametrize(
    "password", [PASSWORD, NEW_PASSWORD, "una clave larga para la prueba", "río tigre 7 azul"]
)
def test_passphrases_pass(password):
    check_new_password(password, username="ana.pnc", institution_code="PNC-SON")


def test_the_minimum_length_still_holds():
    with pytest.raises(InvalidInput) as refused:
        check_new_password("Xk#9vQ2!mz", username="ana.pnc")
    assert "al menos 12 caracteres" in refused.value.message


def test_cli_refuses_a_weak_password_and_makes_no_account(app):
    result = app.test_cli_runner().invoke(
        args=CREATE_ROSA,
        input="sonsonate2026\n",
    )
    assert result.exit_code == 1
    assert "fácil de adivinar" in result.output
    with app.app_context():
        assert find_user(db.session, "rosa.pnc") is None


def test_cli_takes_a_passphrase(app):
    result = app.test_cli_runner().invoke(
        args=CREATE_ROSA,
        input=NEW_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output


def test_change_password_page_refuses_a_guessable_password(app, client, ana):
    start_web_session(app, client, "ana.pnc")
    before = _hash_of(app, "ana.pnc")
    refused = post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": "ana.pnc.2026.", "confirm": "ana.pnc.2026."},
    )
    assert refused.status_code == 200
    assert "contiene su nombre de usuario" in refused.get_data(as_text=True)
    assert is_signed_in(client), "a refused change ends nothing"
    assert _hash_of(app, "ana.pnc") == before
    assert (
        api_login(app.test_client(), "ana.pnc", PASSWORD, otp(ana.totp_secret)).status_code == 200
    )


def _hash_of(app, username: str) -> str:
    with app.app_context():
        return db.session.execute(
            select(User.password_hash).where(User.username == username)
        ).scalar_one()


@pytest.fixture
def newcomer(app, admin):
    """An account an administrator made on the pages: a one-time password, no TOTP yet."""
    client = app.test_client()
    start_web_session(app, client, admin.username)
    made = post_form(
        client,
        "/admin/users",
        {
            "username": "nueva.umm",
            "display_name": "Nueva Usuaria",
            "institution": "UMM-SON",
            "role": "supervisor",
        },
    )
    assert made.status_code == 200
    html = made.get_data(as_text=True)
    one_time = html.split('<code class="secret">')[1].split("</code>")[0]
    with app.app_context():
        user = find_user(db.session, "nueva.umm")
        user.approved_at = utcnow()  # a supervisor approved it (tests/test_separation_…)
        db.session.commit()
        return user.id, one_time


def test_first_login_change_refuses_a_guessable_password(app, client, newcomer):
    _, one_time = newcomer
    assert web_login(client, "nueva.umm", one_time).status_code == 302
    refused = post_form(
        client,
        "/account/password",
        {"current_password": one_time, "new_password": "123456789012", "confirm": "123456789012"},
    )
    assert refused.status_code == 200
    assert "contraseñas más usadas" in refused.get_data(as_text=True)
    assert client.get("/").headers["Location"].endswith("/account/password")


# ---- one-time passwords expire ---------------------------------------------------------


def _age_one_time_password(app, user_id: int, hours: float) -> None:
    with app.app_context():
        user = db.session.get_one(User, user_id)
        user.temp_password_expires_at = utcnow() + timedelta(hours=72 - hours)
        db.session.commit()


def test_one_time_password_works_for_72_hours(app, client, newcomer):
    user_id, one_time = newcomer
    with app.app_context():
        deadline = db.session.get_one(User, user_id).temp_password_expires_at
    assert timedelta(hours=71, minutes=59) < deadline - utcnow() <= timedelta(hours=72)
    _age_one_time_password(app, user_id, hours=71.9)
    assert web_login(client, "nueva.umm", one_time).status_code == 302


def test_expired_one_time_password_is_refused_with_a_clear_message(app, client, newcomer):
    user_id, one_time = newcomer
    _age_one_time_password(app, user_id, hours=72.01)
    refused = web_login(client, "nueva.umm", one_time)
    assert refused.status_code == 401
    assert EXPIRED in refused.get_data(as_text=True)
    assert not is_signed_in(client)
    assert "one_time_password_expired" in _details(app, "login_failed")
    # Anyone without the password hears only the generic answer.
    wrong = web_login(app.test_client(), "nueva.umm", "not the one time password")
    assert EXPIRED not in wrong.get_data(as_text=True)


def test_admin_issues_a_new_one_time_password_and_the_old_one_dies(app, admin, newcomer):
    user_id, old = newcomer
    _age_one_time_password(app, user_id, hours=80)
    browser = app.test_client()
    start_web_session(app, browser, admin.username)
    page = browser.get(f"/admin/users/{user_id}")
    issued = browser.post(
        f"/admin/users/{user_id}/password",
        data={"csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    assert issued.status_code == 200
    new = issued.get_data(as_text=True).split('<code class="secret">')[1].split("</code>")[0]
    assert new != old
    assert web_login(app.test_client(), "nueva.umm", old).status_code == 401
    first = web_login(app.test_client(), "nueva.umm", new)
    assert first.status_code == 302 and first.headers["Location"].endswith("/account/password")
    assert "one_time_password" in _details(app, "user_update")


def test_admin_cannot_reset_the_password_of_an_account_in_use(app, admin, ana):
    browser = app.test_client()
    start_web_session(app, browser, admin.username)
    page = browser.get(f"/admin/users/{ana.id}")
    refused = browser.post(
        f"/admin/users/{ana.id}/password",
        data={"csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    assert refused.status_code == 409
    assert "recuperación" in refused.get_data(as_text=True)
    assert (
        api_login(app.test_client(), "ana.pnc", PASSWORD, otp(ana.totp_secret)).status_code == 200
    )


# ---- recovery: an administrator asks, another person decides ----------------------------


def _ask_recovery(app, admin, user_id: int, reason: str = "Le robaron el teléfono ayer"):
    """The administrator asks, on the user's page."""
    browser = app.test_client()
    start_web_session(app, browser, admin.username)
    return _post_reason(browser, user_id, reason)


def _post_reason(browser, user_id: int, reason: str):
    page = browser.get(f"/admin/users/{user_id}")
    assert page.status_code == 200
    return browser.post(
        f"/admin/users/{user_id}/recovery",
        data={"reason": reason, "csrf_token": csrf_token(page.get_data(as_text=True))},
    )


def _recovery_id(app, user_id: int) -> int:
    with app.app_context():
        return db.session.execute(
            select(AccountRecovery.id).where(AccountRecovery.user_id == user_id)
        ).scalar_one()


def test_recovery_needs_a_reason_and_keeps_what_was_typed(app, admin, ana):
    browser = app.test_client()
    start_web_session(app, browser, admin.username)
    refused = _post_reason(browser, ana.id, "perdió")
    assert refused.status_code == 422
    assert "perdió" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(AccountRecovery)).first() is None


def test_the_whole_recovery_path(app, admin, supervisor, make_person):
    victim = make_person("health_staff", "US-SON", "salud.perdida")
    laptop = app.test_client()
    start_web_session(app, laptop, victim.username)
    assert _ask_recovery(app, admin, victim.id).status_code == 302
    recovery_id = _recovery_id(app, victim.id)
    assert is_signed_in(laptop), "asking alone changes nothing"

    # The supervisor approves through the API; the admin who asked could not.
    approved = app.test_client().post(
        f"/api/v1/recoveries/{recovery_id}/approve",
        json={"approve": True},
        headers=supervisor.headers,
    )
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["approved"] is True
    assert approved.get_json()["requested_by"] == admin.username

    # Everything she (or whoever found her phone) held has ended.
    assert not is_signed_in(laptop)
    probe = app.test_client().get("/api/v1/institutions", headers=victim.headers)
    assert probe.status_code == 401
    assert (
        api_login(app.test_client(), victim.username, PASSWORD, otp(victim.totp_secret)).status_code
        == 401
    )
    with app.app_context():
        user = find_user(db.session, victim.username)
        assert user.totp_enrolled is False and user.totp_secret_enc is None

    # The administrator hands over a new one-time password; she sets up again.
    browser = app.test_client()
    start_web_session(app, browser, admin.username)
    page = browser.get(f"/admin/users/{victim.id}")
    issued = browser.post(
        f"/admin/users/{victim.id}/password",
        data={"csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    one_time = issued.get_data(as_text=True).split('<code class="secret">')[1].split("</code>")[0]
    phone = app.test_client()
    assert (
        web_login(phone, victim.username, one_time)
        .headers["Location"]
        .endswith("/account/password")
    )
    changed = post_form(
        phone,
        "/account/password",
        {"current_password": one_time, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert changed.headers["Location"].endswith("/account/totp")
    enrol_page = phone.get("/account/totp").get_data(as_text=True)
    assert victim.totp_secret not in enrol_page, "a new secret, not the lost one"

    steps = _details(app, "account_recovery")
    assert [d.split(";")[0] for d in steps] == ["requested", "approved"]


def test_a_supervisor_cannot_approve_her_own_recovery(app, admin, supervisor, make_person):
    other = make_person("supervisor", "RED-SON", "otra.supervisora")
    assert _ask_recovery(app, admin, supervisor.id).status_code == 302
    recovery_id = _recovery_id(app, supervisor.id)
    own = app.test_client().post(
        f"/api/v1/recoveries/{recovery_id}/approve",
        json={"approve": True},
        headers=supervisor.headers,
    )
    assert own.status_code == 403
    assert (
        app.test_client().get("/api/v1/institutions", headers=supervisor.headers).status_code == 200
    )
    decided = app.test_client().post(
        f"/api/v1/recoveries/{recovery_id}/approve", json={"approve": True}, headers=other.headers
    )
    assert decided.status_code == 200


def test_a_refused_recovery_changes_nothing_and_is_decided_once(app, admin, supervisor, ana):
    assert _ask_recovery(app, admin, ana.id).status_code == 302
    recovery_id = _recovery_id(app, ana.id)
    browser = app.test_client()
    start_web_session(app, browser, supervisor.username)
    page = browser.get("/audit")
    assert "Le robaron el teléfono ayer" in page.get_data(as_text=True)
    refused = browser.post(
        f"/audit/recoveries/{recovery_id}/decide",
        data={"approve": "no", "csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    assert refused.status_code == 302
    assert app.test_client().get("/api/v1/institutions", headers=ana.headers).status_code == 200
    again = app.test_client().post(
        f"/api/v1/recoveries/{recovery_id}/approve",
        json={"approve": True},
        headers=supervisor.headers,
    )
    assert again.status_code == 409
    assert [d.split(";")[0] for d in _details(app, "account_recovery")] == ["requested", "refused"]


def test_only_one_recovery_waits_at_a_time(app, admin, ana):
    assert _ask_recovery(app, admin, ana.id).status_code == 302
    second = _ask_recovery(app, admin, ana.id, "Otra vez: perdió la contraseña")
    assert second.status_code == 409


# ---- tokens ----------------------------------------------------------------------------


def test_delete_token_revokes_only_the_calling_token(app, client, ana):
    other = api_login(client, "ana.pnc", PASSWORD, otp(ana.totp_secret)).get_json()["token"]
    gone = client.delete("/api/v1/auth/token", headers=ana.headers)
    assert gone.status_code == 204 and gone.get_data() == b""
    assert client.get("/api/v1/institutions", headers=ana.headers).status_code == 401
    assert client.delete("/api/v1/auth/token", headers=ana.headers).status_code == 401
    still = client.get("/api/v1/institutions", headers={"Authorization": f"Bearer {other}"})
    assert still.status_code == 200
    assert "api_token" in [kind for kind, _ in _events(app, "logout")]


def _age_token(app, person, minutes: float) -> None:
    with app.app_context():
        db.session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == person.id)
            .values(last_used_at=utcnow() - timedelta(minutes=minutes))
        )
        db.session.commit()


def test_token_idle_for_31_minutes_is_refused(app, client, ana):
    _age_token(app, ana, 31)
    assert client.get("/api/v1/institutions", headers=ana.headers).status_code == 401


def test_token_idle_for_29_minutes_works_and_is_touched(app, client, ana):
    _age_token(app, ana, 29)
    assert client.get("/api/v1/institutions", headers=ana.headers).status_code == 200
    # Used just now: the next 29 minutes of rest are fine again.
    _age_token_by(app, ana, 29)
    assert client.get("/api/v1/institutions", headers=ana.headers).status_code == 200


def _age_token_by(app, person, minutes: float) -> None:
    with app.app_context():
        row = db.session.execute(select(ApiToken).where(ApiToken.user_id == person.id)).scalar_one()
        row.last_used_at = row.last_used_at - timedelta(minutes=minutes)
        db.session.commit()


def test_last_use_is_written_at_most_once_a_minute(app, client, ana):
    _age_token(app, ana, 0.5)
    with app.app_context():
        before = db.session.execute(select(ApiToken.last_used_at)).scalar_one()
    assert client.get("/api/v1/institutions", headers=ana.headers).status_code == 200
    with app.app_context():
        assert db.session.execute(select(ApiToken.last_used_at)).scalar_one() == before
    _age_token(app, ana, 2)
    assert client.get("/api/v1/institutions", headers=ana.headers).status_code == 200
    with app.app_context():
        touched = db.session.execute(select(ApiToken.last_used_at)).scalar_one()
    assert utcnow() - touched < timedelta(seconds=10)


# ---- "Mis sesiones" --------------------------------------------------------------------


def test_my_sessions_lists_live_logins_and_marks_this_one(app, ana, make_person):
    laptop, phone = client_at(app, "10.9.8.7"), client_at(app, "10.1.2.3")
    assert web_login(laptop, "ana.pnc", PASSWORD, otp(ana.totp_secret)).status_code == 302
    assert web_login(phone, "ana.pnc", PASSWORD, otp(ana.totp_secret, 1)).status_code == 302
    start_web_session(app, app.test_client(), make_person("health_staff", "US-SON").username)
    page = phone.get("/account/sessions").get_data(as_text=True)
    assert "10.9.8.7" in page and "10.1.2.3" in page
    assert page.count("(esta sesión)") == 1
    assert "Acceso de la API" in page  # the fixture's token
    assert page.count("<tr") == 1 + 3, "two browsers and one token: no one else's"


def test_ending_another_session_signs_that_browser_out(app, ana):
    laptop, phone = app.test_client(), app.test_client()
    start_web_session(app, laptop, "ana.pnc")
    start_web_session(app, phone, "ana.pnc")
    with app.app_context():
        laptop_id = min(
            db.session.execute(
                select(UserSession.id).where(UserSession.user_id == ana.id)
            ).scalars()
        )
    page = phone.get("/account/sessions").get_data(as_text=True)
    ended = phone.post(
        f"/account/sessions/{laptop_id}/end",
        data={"csrf_token": csrf_token(page), "password": PASSWORD},
    )
    assert ended.status_code == 302
    assert not is_signed_in(laptop)
    assert is_signed_in(phone)
    assert ("session", str(laptop_id)) in _events(app, "logout")


def _two_browsers(app):
    laptop, phone = app.test_client(), app.test_client()
    start_web_session(app, laptop, "ana.pnc")
    start_web_session(app, phone, "ana.pnc")
    with app.app_context():
        laptop_id = min(db.session.execute(select(UserSession.id)).scalars())
    return laptop, phone, laptop_id


@pytest.mark.parametrize("password", [None, "", "not her password at all"])
def test_ending_another_session_without_her_password_ends_nothing(app, ana, password):
    laptop, phone, laptop_id = _two_browsers(app)
    page = phone.get("/account/sessions").get_data(as_text=True)
    form = {"csrf_token": csrf_token(page)}
    if password is not None:
        form["password"] = password
    refused = phone.post(f"/account/sessions/{laptop_id}/end", data=form)
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "La contraseña no es correcta. No se cerró nada." in text
    assert "Mis sesiones" in text, "the page again"
    assert is_signed_in(laptop) and is_signed_in(phone)
    assert ("session", str(laptop_id)) not in _events(app, "logout")


@pytest.mark.parametrize("password", [None, "not her password at all"])
def test_revoking_a_token_without_her_password_revokes_nothing(app, client, ana, password):
    start_web_session(app, client, "ana.pnc")
    with app.app_context():
        token_id = db.session.execute(select(ApiToken.id)).scalar_one()
    page = client.get("/account/sessions").get_data(as_text=True)
    form = {"csrf_token": csrf_token(page)}
    if password is not None:
        form["password"] = password
    refused = client.post(f"/account/tokens/{token_id}/revoke", data=form)
    assert refused.status_code == 422
    assert "La contraseña no es correcta" in refused.get_data(as_text=True)
    assert app.test_client().get("/api/v1/institutions", headers=ana.headers).status_code == 200


def test_ending_this_session_signs_out(app, client, ana):
    token = start_web_session(app, client, "ana.pnc")
    with app.app_context():
        here = db.session.execute(select(UserSession.id)).scalar_one()
    page = client.get("/account/sessions").get_data(as_text=True)
    ended = client.post(f"/account/sessions/{here}/end", data={"csrf_token": csrf_token(page)})
    assert ended.headers["Location"].endswith("/login")
    assert token and not is_signed_in(client)


def test_revoking_a_token_from_my_sessions(app, client, ana):
    start_web_session(app, client, "ana.pnc")
    with app.app_context():
        token_id = db.session.execute(select(ApiToken.id)).scalar_one()
    page = client.get("/account/sessions").get_data(as_text=True)
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 400, "CSRF"
    assert app.test_client().get("/api/v1/institutions", headers=ana.headers).status_code == 200
    revoked = client.post(
        f"/account/tokens/{token_id}/revoke",
        data={"csrf_token": csrf_token(page), "password": PASSWORD},
    )
    assert revoked.status_code == 302
    assert app.test_client().get("/api/v1/institutions", headers=ana.headers).status_code == 401


def test_nobody_ends_another_users_session(app, ana, make_person):
    beto = make_person("health_staff", "US-SON", "beto.salud")
    victim = app.test_client()
    start_web_session(app, victim, beto.username)
    with app.app_context():
        victim_id = db.session.execute(
            select(UserSession.id).where(UserSession.user_id == beto.id)
        ).scalar_one()
    attacker = app.test_client()
    start_web_session(app, attacker, "ana.pnc")
    page = attacker.get("/account/sessions").get_data(as_text=True)
    refused = attacker.post(
        f"/account/sessions/{victim_id}/end", data={"csrf_token": csrf_token(page)}
    )
    assert refused.status_code == 404
    assert is_signed_in(victim)


# ---- the throttle cannot lock her out from where she signed in before -----------------


ATTACKERS = ("203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4")


def _guess_from_elsewhere(app, username: str, web: bool) -> None:
    """The issue's attack: 20 wrong passwords for her account from 4 other addresses."""
    for ip in ATTACKERS:
        attacker = client_at(app, ip)
        for _ in range(FAILURES_PER_PAIR):
            response = (
                web_login(attacker, username, WRONG, "123456")
                if web
                else api_login(attacker, username, WRONG, "123456")
            )
            assert response.status_code == 401


def test_api_attack_does_not_lock_her_out_of_her_known_address(app, ana):
    home = client_at(app, "198.51.100.7")
    assert api_login(home, "ana.pnc", PASSWORD, otp(ana.totp_secret)).status_code == 200
    _guess_from_elsewhere(app, "ana.pnc", web=False)
    unknown = api_login(
        client_at(app, "198.51.100.99"), "ana.pnc", PASSWORD, otp(ana.totp_secret, 1)
    )
    assert unknown.status_code == 429
    mine = api_login(home, "ana.pnc", PASSWORD, otp(ana.totp_secret, 1))
    assert mine.status_code == 200, mine.get_json()


def test_web_attack_does_not_lock_her_out_of_her_device(app, ana):
    browser = client_at(app, "198.51.100.7")
    assert web_login(browser, "ana.pnc", PASSWORD, otp(ana.totp_secret)).status_code == 302
    assert device_cookie(browser), "a complete login hands out the device cookie"
    browser.post(
        "/logout", data={"csrf_token": csrf_token(browser.get("/").get_data(as_text=True))}
    )
    _guess_from_elsewhere(app, "ana.pnc", web=True)
    # Even from the attackers' own address (a shared network), her device gets in.
    browser.environ_base["REMOTE_ADDR"] = ATTACKERS[0]
    mine = web_login(browser, "ana.pnc", PASSWORD, otp(ana.totp_secret, 1))
    assert mine.status_code == 302
    assert is_signed_in(browser)
    stranger = web_login(
        client_at(app, "198.51.100.99"), "ana.pnc", PASSWORD, otp(ana.totp_secret, 1)
    )
    assert stranger.status_code == 429


def test_a_stolen_device_cookie_gets_a_few_guesses_and_no_more(app, ana):
    browser = app.test_client()
    assert web_login(browser, "ana.pnc", PASSWORD, otp(ana.totp_secret)).status_code == 302
    thief = client_at(app, "203.0.113.50")
    thief.set_cookie("ruta_device", device_cookie(browser))
    for _ in range(FAILURES_PER_TRUSTED):
        assert web_login(thief, "ana.pnc", WRONG, "123456").status_code == 401
    assert web_login(thief, "ana.pnc", PASSWORD, otp(ana.totp_secret, 1)).status_code == 429
    # Those failures were the device's own: the account is not locked for anyone else.
    other = client_at(app, "198.51.100.20")
    assert api_login(other, "ana.pnc", PASSWORD, otp(ana.totp_secret, 1)).status_code == 200


def test_a_forged_or_foreign_device_cookie_is_not_trusted(app, ana, make_person):
    beto = make_person("health_staff", "US-SON", "beto.salud")
    with app.app_context():
        forged = device_cookie_after_login(
            DeviceProof("another key", None), find_user(db.session, "ana.pnc")
        )
        betos = device_cookie_after_login(
            DeviceProof(app.config["SECRET_KEY"], None), find_user(db.session, beto.username)
        )
    _guess_from_elsewhere(app, "ana.pnc", web=True)
    for cookie in (forged, betos, "garbage"):
        browser = client_at(app, "198.51.100.7")
        browser.set_cookie("ruta_device", cookie)
        assert web_login(browser, "ana.pnc", PASSWORD, otp(ana.totp_secret)).status_code == 429


def test_one_browser_is_trusted_for_each_of_its_users(app):
    with app.app_context():
        key = app.config["SECRET_KEY"]
        ring = get_keyring()
        made = [
            create_user(
                db.session,
                ring,
                username=name,
                institution_code="US-SON",
                role="health_staff",
                password=PASSWORD,
            ).user
            for name in ("uno.salud", "dos.salud")
        ]
        first = device_cookie_after_login(DeviceProof(key, None), made[0])
        both = device_cookie_after_login(DeviceProof(key, first), made[1])
        assert trusted_device(DeviceProof(key, both), made[0]) == trusted_device(
            DeviceProof(key, first), made[0]
        )
        assert trusted_device(DeviceProof(key, both), made[1]) is not None


def test_recovery_forgets_her_devices_and_addresses(app, admin, supervisor, ana):
    browser = app.test_client()
    assert web_login(browser, "ana.pnc", PASSWORD, otp(ana.totp_secret)).status_code == 302
    assert (
        api_login(app.test_client(), "ana.pnc", PASSWORD, otp(ana.totp_secret, 1)).status_code
        == 200
    )
    assert _ask_recovery(app, admin, ana.id).status_code == 302
    approved = app.test_client().post(
        f"/api/v1/recoveries/{_recovery_id(app, ana.id)}/approve",
        json={"approve": True},
        headers=supervisor.headers,
    )
    assert approved.status_code == 200
    with app.app_context():
        user = find_user(db.session, "ana.pnc")
        assert (
            trusted_device(DeviceProof(app.config["SECRET_KEY"], device_cookie(browser)), user)
            is None
        )
        assert (
            db.session.execute(select(KnownAddress).where(KnownAddress.user_id == ana.id)).first()
            is None
        )
