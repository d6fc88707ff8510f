"""The survivor's status lookup: the stage and next step, nothing else; wrong pairs look
exactly like unknown codes; guessing is throttled per address and per code."""

from __future__ import annotations

import re

import pytest

from app.status import service as status_lookup
from tests import factories
from tests.report_helpers import Seeded, open_cases, valid_dui

STATUS = "/api/v1/status"
OTHER_ADDRESS = {"REMOTE_ADDR": "10.9.8.7"}


@pytest.fixture
def slip(client, pnc) -> tuple[str, str, str]:
    """(case id, code, PIN) of a newly opened case."""
    seeded = Seeded()
    [case_id] = open_cases(client, pnc, seeded, 1, municipality="Sonsonate", types=["physical"])
    code, pin = seeded.slips[0]
    return case_id, code, pin


def ask(client, code: str, pin: str, address: str = "127.0.0.1"):
    return client.post(
        STATUS, json={"code": code, "pin": pin}, environ_base={"REMOTE_ADDR": address}
    )


def wrong_pin(pin: str) -> str:
    return f"{(int(pin) + 1) % 10**6:06d}"


def test_the_slip_gives_the_stage_and_next_step_only(client, slip):
    case_id, code, pin = slip
    response = ask(client, code, pin)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"status", "next_step"}
    assert body["status"] == "caso abierto"
    assert "911" in body["next_step"]
    text = response.get_data(as_text=True)
    for leak in (case_id, "SON-", "María", "Sonsonate", "PNC"):
        assert leak not in text


def test_the_code_may_be_typed_loosely(client, slip):
    _, code, pin = slip
    assert ask(client, code.lower().replace("-", " "), pin).status_code == 200


def test_a_wrong_pin_answers_exactly_like_an_unknown_code(client, slip):
    _, code, pin = slip
    wrong = ask(client, code, wrong_pin(pin))
    unknown = ask(client, "ZZZZ-ZZZZ", pin)
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.get_data() == unknown.get_data()
    assert set(wrong.get_json()) == {"error", "message", "fields"}


def test_an_unknown_code_still_costs_one_argon2_check(client, monkeypatch):
    calls = []
    real = status_lookup.verify_password
    monkeypatch.setattr(
        status_lookup,
        "verify_password",
        lambda stored, pin: calls.append(stored) or real(stored, pin),
    )
    assert ask(client, "ZZZZ-ZZZZ", "123456").status_code == 404
    assert calls == [None]  # None: checked against the dummy hash


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"code": "ABCD-EFGH"},
        {"code": "", "pin": ""},
        {"code": "A" * 41, "pin": "1"},
        {"code": 5, "pin": 6},
    ],
)
def test_malformed_lookups_are_422(client, body):
    response = client.post(STATUS, json=body)
    assert response.status_code == 422, response.get_json()


def test_stages_follow_the_case(client, pnc, health, slip):
    case_id, code, pin = slip
    base = f"/api/v1/cases/{case_id}"

    def stage() -> str:
        return ask(client, code, pin).get_json()["status"]

    assert (
        client.post(f"{base}/status", headers=pnc.headers, json={"status": "follow_up"}).status_code
        == 200
    )
    assert stage() == "en seguimiento"
    assert (
        client.post(f"{base}/complaints", headers=pnc.headers, json={"number": "DEN-9"}).status_code
        == 201
    )
    assert stage() == "denuncia recibida"
    items = client.get("/api/v1/institutions", headers=pnc.headers).get_json()["items"]
    hospital = next(i["id"] for i in items if i["code"] == "HOSP-SON")
    referral = client.post(
        f"{base}/referrals",
        headers=pnc.headers,
        json={
            "to_institution": hospital,
            "service": "medical",
            "urgency": "immediate",
            "consent": True,
        },
    )
    assert referral.status_code == 201, referral.get_json()
    assert stage() == "remitida a salud"
    measure = client.post(
        f"{base}/complaints",
        headers=pnc.headers,
        json={"number": "DEN-10", "measures": [{"measure": "keep_away", "granted": True}]},
    )
    assert measure.status_code == 201
    assert stage() == "medidas de protección vigentes"
    closed = client.post(
        f"{base}/status",
        headers=pnc.headers,
        json={"status": "closed", "reason": "services_completed"},
    )
    assert closed.status_code == 200, closed.get_json()
    assert stage() == "caso cerrado"


def test_ten_wrong_pins_lock_the_code_even_from_elsewhere(client, slip):
    _, code, pin = slip
    for attempt in range(status_lookup.MAX_WRONG_TRIES):
        address = f"10.0.0.{attempt + 1}"  # spread out: the per-address limit never trips
        assert ask(client, code, wrong_pin(pin), address).status_code == 404, attempt
    locked = ask(client, code, pin, "10.0.1.1")  # the right PIN, from a fresh address
    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= status_lookup.WINDOW_SECONDS
    assert set(locked.get_json()) == {"error", "message", "fields"}


def test_ten_wrong_tries_from_one_address_block_it_but_not_another(client, pnc):
    seeded = Seeded()
    open_cases(client, pnc, seeded, 2, municipality="Sonsonate", types=["physical"])
    (code, pin), (other_code, other_pin) = seeded.slips
    for attempt in range(status_lookup.MAX_WRONG_TRIES):
        assert ask(client, f"AAAA-{attempt:04d}", "000000").status_code == 404
    blocked = ask(client, code, pin)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    # Another survivor, from another address, is not held up.
    assert ask(client, other_code, other_pin, OTHER_ADDRESS["REMOTE_ADDR"]).status_code == 200


def test_right_answers_do_not_count_against_the_address(client, slip):
    _, code, pin = slip
    for _ in range(status_lookup.MAX_WRONG_TRIES + 2):
        assert ask(client, code, pin).status_code == 200


# ---- the page ---------------------------------------------------------------------------


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_the_page_posts_a_form_without_autocomplete_and_has_a_quick_exit(client):
    response = client.get("/status")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert re.search(r'<form method="post"[^>]*autocomplete="off"', page)
    assert 'name="pin"' in page and 'type="password"' in page
    assert 'href="https://www.google.com/search?q=clima"' in page and "Salida rápida" in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # scripts come from files only
    assert "style=" not in page and "<style" not in page


def test_the_page_shows_the_stage_and_not_what_was_typed(client, slip):
    _, code, pin = slip
    token = csrf(client.get("/status").get_data(as_text=True))
    response = client.post("/status", data={"csrf_token": token, "code": code, "pin": pin})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "caso abierto" in page
    assert code not in page and pin not in page
    assert response.headers["Cache-Control"] == "no-store"


def test_the_page_answers_wrong_pairs_like_unknown_codes(client, slip):
    _, code, pin = slip
    token = csrf(client.get("/status").get_data(as_text=True))
    wrong = client.post("/status", data={"csrf_token": token, "code": code, "pin": wrong_pin(pin)})
    unknown = client.post("/status", data={"csrf_token": token, "code": "ZZZZ-ZZZZ", "pin": pin})
    assert wrong.status_code == unknown.status_code == 404

    def without_token(page: str) -> str:
        return re.sub(r'value="[^"]*"', "", page)

    assert without_token(wrong.get_data(as_text=True)) == without_token(
        unknown.get_data(as_text=True)
    )


def test_the_page_and_the_api_share_the_address_limit(client, slip):
    _, code, pin = slip
    token = csrf(client.get("/status").get_data(as_text=True))
    for attempt in range(status_lookup.MAX_WRONG_TRIES):
        page = client.post(
            "/status", data={"csrf_token": token, "code": f"BBBB-{attempt:04d}", "pin": "000000"}
        )
        assert page.status_code == 404
    assert (
        client.post("/status", data={"csrf_token": token, "code": code, "pin": pin}).status_code
        == 429
    )
    assert ask(client, code, pin).status_code == 429


def test_a_matched_intake_gives_no_new_slip(client, pnc, health, slip):
    again = client.post(
        "/api/v1/cases",
        headers=health.headers,
        json=factories.intake(
            survivor_overrides={
                "given_names": "Xiomara001",
                "family_names": "Quintanilla001",
                "dui": valid_dui(31_000_001),
                "birth_date": "1990-04-12",
            }
        ),
    )
    assert again.get_json()["matched_existing"] is True
    assert "status_code" not in again.get_json() or again.get_json()["status_code"] is None
