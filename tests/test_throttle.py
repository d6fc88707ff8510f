"""Login throttling: a guessed account waits, with growing delays; nobody else does."""

from __future__ import annotations

import pytest
from limits.storage import MemoryStorage
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.throttle import (
    FAILURES_PER_ACCOUNT,
    FAILURES_PER_PAIR,
    FAILURES_PER_TRUSTED,
    MAX_DELAY_SECONDS,
    LoginThrottle,
    lockout_delay,
)
from app.auth.throttle_store import login_throttle
from app.extensions import db, limiter
from tests.auth_helpers import api_login, csrf_token, is_signed_in, otp
from tests.conftest import PASSWORD

WRONG = "not the password at all"
ELSEWHERE = {"REMOTE_ADDR": "10.20.30.40"}


@pytest.fixture(autouse=True)
def fresh_limits(app):
    """The limiter's memory storage may outlive one app in this process: start empty."""
    with app.app_context():
        limiter.reset()


@pytest.fixture
def ana(make_person):
    return make_person("pnc_agent", "PNC-SON", "ana.pnc")


@pytest.fixture
def beto(make_person):
    return make_person("health_staff", "US-SON", "beto.salud")


def _retry_after(response, at_least: int = lockout_delay(1)) -> int:
    """Seconds the client is told to wait: never less than the lockout still to run."""
    value = int(response.headers["Retry-After"])
    assert at_least - 2 <= value <= max(at_least, 60), value
    return value


def _escalate(app, username: str, lockouts: int) -> int:
    """Earlier lockouts of this account from this address, as if spread over the hour."""
    with app.app_context():
        throttle = login_throttle()
        for _ in range(lockouts * FAILURES_PER_PAIR):
            throttle.record_failure(username, "127.0.0.1")
        return throttle.wait_seconds(username, "127.0.0.1")


def _lock_out_by_api(client, username: str) -> None:
    for attempt in range(FAILURES_PER_PAIR):
        response = api_login(client, username, WRONG, "123456")
        assert response.status_code == 401, f"attempt {attempt + 1}"


def test_sixth_api_attempt_is_refused_even_with_the_right_password(client, ana):
    _lock_out_by_api(client, "ana.pnc")
    sixth = api_login(client, "ana.pnc", PASSWORD, otp(ana.totp_secret))
    assert sixth.status_code == 429
    assert sixth.get_json()["error"] == "too_many_requests"
    assert "token" not in sixth.get_json()
    _retry_after(sixth)


def test_unknown_username_is_throttled_like_a_real_one(client):
    _lock_out_by_api(client, "nadie.pnc")
    sixth = api_login(client, "nadie.pnc", WRONG)
    assert sixth.status_code == 429
    _retry_after(sixth)


def test_lockout_does_not_block_other_users_from_the_same_address(client, ana, beto):
    _lock_out_by_api(client, "ana.pnc")
    assert api_login(client, "beto.salud", PASSWORD, otp(beto.totp_secret)).status_code == 200


def test_lockout_does_not_block_the_account_from_another_address(app, client, ana):
    _lock_out_by_api(client, "ana.pnc")
    elsewhere = app.test_client()
    elsewhere.environ_base.update(ELSEWHERE)
    assert api_login(elsewhere, "ana.pnc", PASSWORD, otp(ana.totp_secret)).status_code == 200
    assert (
        api_login(client, "ana.pnc", PASSWORD, otp(ana.totp_secret, steps_ahead=1)).status_code
        == 429
    )


def test_success_clears_the_failure_count(client, ana):
    for _ in range(FAILURES_PER_PAIR - 1):
        assert api_login(client, "ana.pnc", WRONG).status_code == 401
    assert api_login(client, "ana.pnc", PASSWORD, otp(ana.totp_secret)).status_code == 200
    for attempt in range(FAILURES_PER_PAIR - 1):
        assert api_login(client, "ana.pnc", WRONG).status_code == 401, f"attempt {attempt + 1}"
    again = api_login(client, "ana.pnc", PASSWORD, otp(ana.totp_secret, steps_ahead=1))
    assert again.status_code == 200


def test_throttled_attempts_are_audited(app, client, ana):
    _lock_out_by_api(client, "ana.pnc")
    assert api_login(client, "ana.pnc", PASSWORD, otp(ana.totp_secret)).status_code == 429
    with app.app_context():
        failures = (
            db.session.execute(
                select(AuditEvent.detail).where(
                    AuditEvent.action == "login_failed", AuditEvent.username == "ana.pnc"
                )
            )
            .scalars()
            .all()
        )
        logins = (
            db.session.execute(select(AuditEvent.id).where(AuditEvent.action == "login"))
            .scalars()
            .all()
        )
    assert sorted(failures, key=str) == [None] * FAILURES_PER_PAIR + ["throttled"]
    assert logins == []


def _web_attempt(client, form_token: str, password: str, code: str):
    return client.post(
        "/login",
        data={"username": "ana.pnc", "password": password, "otp": code, "csrf_token": form_token},
    )


def test_sixth_web_attempt_is_refused_even_with_the_right_password(client, ana):
    form_token = csrf_token(client.get("/login").get_data(as_text=True))
    for attempt in range(FAILURES_PER_PAIR):
        response = _web_attempt(client, form_token, WRONG, "123456")
        assert response.status_code == 401, f"attempt {attempt + 1}"
    sixth = _web_attempt(client, form_token, PASSWORD, otp(ana.totp_secret))
    assert sixth.status_code == 429
    _retry_after(sixth)
    assert "Demasiados intentos" in sixth.get_data(as_text=True)
    assert not is_signed_in(client)


def test_retry_after_covers_a_long_lockout_on_the_api(app, client, ana):
    wait = _escalate(app, "ana.pnc", lockouts=3)
    assert wait > lockout_delay(2)
    response = api_login(client, "ana.pnc", PASSWORD, otp(ana.totp_secret))
    assert response.status_code == 429
    _retry_after(response, at_least=wait)


def test_retry_after_covers_a_long_lockout_on_the_web(app, client, ana):
    wait = _escalate(app, "ana.pnc", lockouts=3)
    form_token = csrf_token(client.get("/login").get_data(as_text=True))
    response = _web_attempt(client, form_token, PASSWORD, otp(ana.totp_secret))
    assert response.status_code == 429
    _retry_after(response, at_least=wait)
    assert str(wait - 1) in response.get_data(as_text=True) or str(wait) in response.get_data(
        as_text=True
    ), "the page says how long to wait"


def test_web_lockout_does_not_block_another_user(app, client, ana, beto):
    form_token = csrf_token(client.get("/login").get_data(as_text=True))
    for _ in range(FAILURES_PER_PAIR + 1):
        _web_attempt(client, form_token, WRONG, "123456")
    other = app.test_client()
    form_token = csrf_token(other.get("/login").get_data(as_text=True))
    response = other.post(
        "/login",
        data={
            "username": "beto.salud",
            "password": PASSWORD,
            "otp": otp(beto.totp_secret),
            "csrf_token": form_token,
        },
    )
    assert response.status_code == 302
    assert is_signed_in(other)


# ---- the throttle itself, on the limits library's memory storage ------------------------


@pytest.fixture
def throttle():
    return LoginThrottle(MemoryStorage(), prefix="unit")


def _fail(throttle: LoginThrottle, times: int, username: str = "ana", ip: str = "1.2.3.4"):
    for _ in range(times):
        throttle.record_failure(username, ip)


def test_lockout_delay_doubles_up_to_fifteen_minutes():
    assert [lockout_delay(level) for level in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert lockout_delay(0) == 30
    assert lockout_delay(50) == MAX_DELAY_SECONDS == 900


def test_four_failures_do_not_lock(throttle):
    _fail(throttle, FAILURES_PER_PAIR - 1)
    assert throttle.wait_seconds("ana", "1.2.3.4") == 0


def test_second_lockout_waits_longer_than_the_first(throttle):
    _fail(throttle, FAILURES_PER_PAIR)
    first = throttle.wait_seconds("ana", "1.2.3.4")
    assert lockout_delay(1) - 2 <= first <= lockout_delay(1)
    _fail(throttle, FAILURES_PER_PAIR)
    second = throttle.wait_seconds("ana", "1.2.3.4")
    assert lockout_delay(2) - 2 <= second <= lockout_delay(2)
    _fail(throttle, FAILURES_PER_PAIR)
    assert throttle.wait_seconds("ana", "1.2.3.4") > second


def test_lock_holds_only_that_account_at_that_address(throttle):
    _fail(throttle, FAILURES_PER_PAIR)
    assert throttle.wait_seconds("ana", "1.2.3.4") > 0
    assert throttle.wait_seconds("beto", "1.2.3.4") == 0
    assert throttle.wait_seconds("ana", "5.6.7.8") == 0


def test_success_clears_the_pair_counter(throttle):
    _fail(throttle, FAILURES_PER_PAIR - 1)
    throttle.record_success("ana", "1.2.3.4")
    _fail(throttle, FAILURES_PER_PAIR - 1)
    assert throttle.wait_seconds("ana", "1.2.3.4") == 0
    _fail(throttle, 1)
    assert throttle.wait_seconds("ana", "1.2.3.4") > 0


def test_guessing_one_account_from_many_addresses_locks_the_account(throttle):
    for n in range(FAILURES_PER_ACCOUNT):
        throttle.record_failure("ana", f"10.0.{n // 250}.{n % 250}")
    assert throttle.wait_seconds("ana", "192.168.1.1") > 0
    assert throttle.wait_seconds("beto", "192.168.1.1") == 0


# ---- trusted places: her device or a known address (OWASP device cookies) ---------------


def test_a_trusted_place_is_not_held_by_locks_that_others_built(throttle):
    for n in range(FAILURES_PER_ACCOUNT):
        throttle.record_failure("ana", f"10.0.0.{n % 4}")
    assert throttle.wait_seconds("ana", "10.0.0.0") > 0, "the attackers' pair"
    assert throttle.wait_seconds("ana", "192.168.1.1") > 0, "the account, for strangers"
    assert throttle.wait_seconds("ana", "10.0.0.0", trusted="device:abc") == 0
    assert throttle.wait_seconds("ana", "192.168.1.1", trusted="address:192.168.1.1") == 0


def test_a_trusted_place_locks_on_its_own_failures_only(throttle):
    for _ in range(FAILURES_PER_TRUSTED):
        throttle.record_failure("ana", "1.2.3.4", trusted="device:abc")
    assert throttle.wait_seconds("ana", "1.2.3.4", trusted="device:abc") > 0
    assert throttle.wait_seconds("ana", "1.2.3.4", trusted="device:other") == 0
    assert throttle.wait_seconds("ana", "1.2.3.4") == 0, "nothing counted on the account"
