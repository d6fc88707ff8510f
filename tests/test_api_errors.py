"""How the JSON API says no: 400/401/404/422 with one error shape, nothing stored, never 500."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app import create_app
from app.audit.models import AuditEvent
from app.auth.models import ApiToken, User
from app.auth.service import create_user
from app.cases.models import Case, CaseNumberCounter, CaseParty, Consent, Incident, Survivor
from app.cli.demo import load_directory
from app.core.time import local_today, utcnow
from app.crypto.models import DataKey
from app.extensions import db
from tests.auth_helpers import otp, totp_now
from tests.conftest import PASSWORD, Person, make_settings
from tests.factories import incident, intake

ERROR_KEYS = {"error", "message", "fields"}
STORED = (Case, Survivor, Incident, CaseParty, Consent, DataKey, CaseNumberCounter, AuditEvent)


# ---- helpers ---------------------------------------------------------------------------


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert set(body) == ERROR_KEYS
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str)
    assert isinstance(body["fields"], dict)
    return body


def stored_counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in STORED
        }


def post_case(client: FlaskClient, person: Person, body: Any) -> Any:
    return client.post("/api/v1/cases", json=body, headers=person.headers)


def token_request(client: FlaskClient, username: str, password: str, otp: str | None = None):
    body: dict[str, Any] = {"username": username, "password": password}
    if otp is not None:
        body["otp"] = otp
    return client.post("/api/v1/auth/token", json=body)


def audit_actions(app: Flask, username: str) -> list[str]:
    with app.app_context():
        return list(
            db.session.execute(
                select(AuditEvent.action)
                .where(AuditEvent.username == username)
                .order_by(AuditEvent.id)
            ).scalars()
        )


def wrong_code(secret: str) -> str:
    """A six-digit code that no step within the accepted drift would produce."""
    totp = pyotp.TOTP(secret)
    now = totp_now()
    near = {totp.at(now + offset) for offset in (-90, -60, -30, 0, 30, 60, 90)}
    for candidate in ("000000", "111111", "123456", "654321", "999999"):
        if candidate not in near:
            return candidate
    raise AssertionError("unreachable: five codes cannot all be near")


# ---- 401: who are you? -------------------------------------------------------------------


PROTECTED_CALLS = [
    ("get", "/api/v1/institutions"),
    ("get", "/api/v1/cases"),
    ("post", "/api/v1/cases/search"),
    ("post", "/api/v1/cases"),
    ("get", f"/api/v1/cases/{uuid.uuid4()}"),
    ("post", f"/api/v1/cases/{uuid.uuid4()}/incidents"),
]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer    ",
        "Bearer not-a-real-token",
        "Token abc",
        "Bearer " + "x" * 5000,
    ],
    ids=["absent", "empty", "scheme-only", "blank", "unknown", "other-scheme", "huge"],
)
def test_calls_without_a_valid_token_are_401(app, client, pnc, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    before = stored_counts(app)
    for method, path in PROTECTED_CALLS:
        response = getattr(client, method)(path, json=intake(), headers=headers)
        body = assert_error(response, 401)
        assert body["error"] == "unauthorized", path
    assert stored_counts(app) == before


def test_a_garbage_body_without_a_token_is_401_not_400(client):
    response = client.post("/api/v1/cases", data="{not json", content_type="application/json")
    assert_error(response, 401)


def test_an_expired_token_is_401(app, client, pnc):
    assert client.get("/api/v1/institutions", headers=pnc.headers).status_code == 200
    with app.app_context():
        for row in db.session.execute(select(ApiToken).where(ApiToken.user_id == pnc.id)).scalars():
            row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    before = stored_counts(app)
    for method, path in PROTECTED_CALLS:
        response = getattr(client, method)(path, json=intake(), headers=pnc.headers)
        assert_error(response, 401)
    assert stored_counts(app) == before


def test_a_revoked_token_and_a_deactivated_user_are_401(app, client, pnc, health):
    with app.app_context():
        token = db.session.execute(select(ApiToken).where(ApiToken.user_id == pnc.id)).scalar_one()
        token.revoked_at = utcnow()
        db.session.get_one(User, health.id).active = False
        db.session.commit()
    assert_error(client.get("/api/v1/institutions", headers=pnc.headers), 401)
    assert_error(client.get("/api/v1/institutions", headers=health.headers), 401)


def test_the_token_of_one_user_is_not_accepted_with_a_tampered_character(client, pnc):
    tampered = pnc.token[:-1] + ("A" if pnc.token[-1] != "A" else "B")
    response = client.get("/api/v1/institutions", headers={"Authorization": f"Bearer {tampered}"})
    assert_error(response, 401)


# ---- 400: not a JSON object -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ('{"survivor": {', "application/json"),
        ("{'survivor': {}}", "application/json"),
        ("", "application/json"),
        ("[]", "application/json"),
        (json.dumps([intake()]), "application/json"),
        ("null", "application/json"),
        ('"a string"', "application/json"),
        ("42", "application/json"),
        ("true", "application/json"),
        (b"\xff\xfe\x00{", "application/json"),
        (json.dumps(intake()), "text/plain"),
        ("survivor=x&incident=y", "application/x-www-form-urlencoded"),
        ("[" * 50_000 + "]" * 50_000, "application/json"),
        ('{"a":' * 50_000 + "1" + "}" * 50_000, "application/json"),
    ],
    ids=[
        "truncated",
        "single-quotes",
        "empty",
        "empty-array",
        "array-of-intake",
        "null",
        "string",
        "number",
        "boolean",
        "bad-bytes",
        "json-as-text-plain",
        "form-encoded",
        "deep-array",
        "deep-object",
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(app, client, pnc, data, content_type):
    before = stored_counts(app)
    response = client.post(
        "/api/v1/cases", data=data, content_type=content_type, headers=pnc.headers
    )
    assert_error(response, 400)
    assert stored_counts(app) == before


def test_a_body_with_no_content_type_is_400(app, client, pnc):
    response = client.post("/api/v1/cases", data=json.dumps(intake()), headers=pnc.headers)
    assert_error(response, 400)


@pytest.mark.parametrize(
    "raw",
    ['"Ana\\ud800"', '"\\udfff"', '"Ana\\u0000"'],
    ids=["lone-high-surrogate", "lone-low-surrogate", "nul"],
)
def test_text_that_cannot_be_stored_is_refused_not_a_500(app, client, pnc, raw):
    body = json.dumps(intake(), ensure_ascii=False).replace('"María José"', raw)
    assert raw in body
    before = stored_counts(app)
    response = client.post(
        "/api/v1/cases", data=body, content_type="application/json", headers=pnc.headers
    )
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert_error(response, response.status_code)
    assert stored_counts(app) == before


# ---- 422: a JSON object, but not valid data ---------------------------------------------


def _future(days: int = 1) -> str:
    return (local_today() + timedelta(days=days)).isoformat()


INVALID_INTAKES = [
    ("bad-dui-check-digit", {"survivor": {"dui": "12345678-5"}}, ("survivor", "dui")),
    ("zero-dui", {"survivor": {"dui": "00000000-0"}}, ("survivor", "dui")),
    ("dui-too-short", {"survivor": {"dui": "1234567-4"}}, ("survivor", "dui")),
    ("dui-letters", {"survivor": {"dui": "1234567A-4"}}, ("survivor", "dui")),
    ("dui-arabic-digits", {"survivor": {"dui": "١٢٣٤٥٦٧٨-٤"}}, ("survivor", "dui")),
    ("dui-fullwidth-digits", {"survivor": {"dui": "１２３４５６７８-４"}}, ("survivor", "dui")),
    ("birth-in-future", {"survivor": {"birth_date": _future()}}, ("survivor", "birth_date")),
    ("birth-impossible", {"survivor": {"birth_date": "1994-02-30"}}, ("survivor", "birth_date")),
    ("birth-not-a-date", {"survivor": {"birth_date": "15/03/1994"}}, ("survivor", "birth_date")),
    ("incident-in-future", {"incident": {"occurred_on": _future()}}, ("incident", "occurred_on")),
    (
        "incident-before-birth",
        {"incident": {"occurred_on": "1994-03-14"}},
        ("incident", "occurred_on"),
    ),
    (
        "unknown-violence-type",
        {"incident": {"violence_types": ["physical", "emotional"]}},
        ("incident", "violence_types"),
    ),
    ("empty-violence-types", {"incident": {"violence_types": []}}, ("incident", "violence_types")),
    (
        "violence-types-not-a-list",
        {"incident": {"violence_types": "physical"}},
        ("incident", "violence_types"),
    ),
    ("unknown-sex", {"survivor": {"sex": "W"}}, ("survivor", "sex")),
    ("lowercase-sex", {"survivor": {"sex": "f"}}, ("survivor", "sex")),
    (
        "unknown-survivor-municipality",
        {"survivor": {"municipality": "Atlantis"}},
        ("survivor", "municipality"),
    ),
    (
        "unknown-incident-municipality",
        {"incident": {"municipality": "Tegucigalpa"}},
        ("incident", "municipality"),
    ),
    ("missing-given-names", {"survivor": {"given_names": ...}}, ("survivor", "given_names")),
    ("blank-given-names", {"survivor": {"given_names": "   "}}, ("survivor", "given_names")),
    ("null-given-names", {"survivor": {"given_names": None}}, ("survivor", "given_names")),
    ("numeric-given-names", {"survivor": {"given_names": 42}}, ("survivor", "given_names")),
    (
        "unknown-relationship",
        {"incident": {"perpetrator_relationship": "neighbour"}},
        ("incident", "perpetrator_relationship"),
    ),
    (
        "penetration-without-sexual-violence",
        {"incident": {"penetration": True}},
        ("incident", "penetration"),
    ),
    ("consent-not-boolean", {"consent": {"police": "maybe"}}, ("consent", "police")),
]


def _apply(body: dict[str, Any], changes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    for part, fields in changes.items():
        for name, value in fields.items():
            if value is ...:
                body[part].pop(name, None)
            else:
                body[part][name] = value
    return body


@pytest.mark.parametrize(
    ("changes", "path"),
    [pytest.param(changes, path, id=name) for name, changes, path in INVALID_INTAKES],
)
def test_invalid_intake_is_422_naming_the_nested_field_and_stores_nothing(
    app, client, pnc, health, changes, path
):
    # The survivor is already on file, so the refused intake would otherwise have joined it.
    existing = post_case(client, pnc, intake()).get_json()
    before = stored_counts(app)

    response = post_case(client, health, _apply(intake(), changes))

    body = assert_error(response, 422)
    assert body["error"] == "invalid"
    part, field = path
    assert isinstance(body["fields"].get(part), dict), body["fields"]
    assert body["fields"][part][field], body["fields"]
    assert stored_counts(app) == before
    # US-SON did not become a party through the refused intake.
    assert client.get(f"/api/v1/cases/{existing['id']}", headers=health.headers).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"survivor": intake()["survivor"]},
        {"incident": intake()["incident"]},
        {"survivor": "María", "incident": intake()["incident"]},
        {"survivor": [], "incident": intake()["incident"]},
        {"survivor": intake()["survivor"], "incident": None},
        {"survivor": intake()["survivor"], "incident": intake()["incident"], "consent": []},
    ],
    ids=[
        "empty-object",
        "no-incident",
        "no-survivor",
        "survivor-string",
        "survivor-list",
        "incident-null",
        "consent-list",
    ],
)
def test_intake_with_missing_or_misshapen_parts_is_422(app, client, pnc, body):
    before = stored_counts(app)
    response = post_case(client, pnc, body)
    errors = assert_error(response, 422)["fields"]
    assert errors
    assert set(errors) <= {"survivor", "incident", "consent"}
    assert stored_counts(app) == before


def test_a_non_latin_dui_never_opens_a_second_record(app, client, pnc, health):
    first = post_case(client, pnc, intake()).get_json()
    response = post_case(client, health, intake(survivor_overrides={"dui": "１２３４５６７８-４"}))
    if response.status_code == 201:
        assert response.get_json()["id"] == first["id"]
    else:
        assert_error(response, 422)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"occurred_on": "1994-03-14"}, "occurred_on"),
        ({"occurred_on": _future()}, "occurred_on"),
        ({"violence_types": []}, "violence_types"),
        ({"violence_types": ["rumour"]}, "violence_types"),
        ({"municipality": "Atlantis"}, "municipality"),
        ({"perpetrator_relationship": None}, "perpetrator_relationship"),
    ],
    ids=["before-birth", "future", "no-types", "unknown-type", "unknown-municipality", "null-rel"],
)
def test_invalid_incident_on_an_existing_case_is_422_and_stores_nothing(
    app, client, pnc, changes, field
):
    case_id = post_case(client, pnc, intake()).get_json()["id"]
    before = stored_counts(app)
    response = client.post(
        f"/api/v1/cases/{case_id}/incidents", json=incident(**changes), headers=pnc.headers
    )
    body = assert_error(response, 422)
    assert body["fields"][field]
    assert stored_counts(app) == before


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"dui": "12345678-5"},
        {"dui": "00000000-0"},
        {"dui": ""},
        {"name": "María José López Hernández"},
        {"birth_date": "1994-03-15"},
        {"name": "María José López Hernández", "birth_date": "1994-13-01"},
        {"name": "", "birth_date": "1994-03-15"},
    ],
    ids=[
        "nothing",
        "bad-dui",
        "zero-dui",
        "empty-dui",
        "name-only",
        "date-only",
        "bad-date",
        "empty-name",
    ],
)
def test_a_search_without_a_usable_key_is_422(client, pnc, query):
    response = client.post("/api/v1/cases/search", json=query, headers=pnc.headers)
    assert assert_error(response, 422)["fields"]


# ---- never a 500 --------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "",
            "F",
            "12345678-4",
            "2026-02-30",
            "9999-12-31",
            "0001-01-01",
            "Sonsonate",
            "physical",
            "partner",
            "\x00",
            "\ud800",
            "١٢٣٤٥٦٧٨-٤",
            "ñ" * 300,
        ]
    )
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELD_PATHS = [(part, name) for part, body in intake().items() for name in body] + [
    ("survivor", "disability"),
    ("incident", "weapon"),
    ("incident", "penetration"),
    ("incident", "children_present"),
    ("survivor", "safe_contact"),
]


@st.composite
def intake_bodies(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "random"]))
    if kind == "random":
        return draw(json_values)
    body = intake()
    for part, name in draw(st.lists(st.sampled_from(FIELD_PATHS), min_size=1, max_size=4)):
        if draw(st.booleans()):
            body[part][name] = draw(json_values)
        else:
            body[part].pop(name, None)
    if draw(st.booleans()):
        body[draw(st.sampled_from(["survivor", "incident", "consent"]))] = draw(json_values)
    return body


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=intake_bodies())
def test_random_intake_bodies_never_cause_a_server_error(app, client, pnc, body):
    response = post_case(client, pnc, body)
    event(f"status {response.status_code}")  # --hypothesis-show-statistics
    assert response.status_code in {201, 400, 409, 422}, (body, response.get_data(as_text=True))
    if response.status_code == 409:
        # The examples share one database: a body drawn twice is the same woman telling the
        # same incident again, or a DUI already on file with another birth date.
        assert response.get_json()["error"] in {"possible_duplicate_incident", "identity_conflict"}
    elif response.status_code != 201:
        assert_error(response, response.status_code)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    query=st.dictionaries(
        st.sampled_from(["dui", "name", "birth_date", "number", "other"]),
        json_scalars
        | st.sampled_from(["12345678-4", "1994-03-15", "María José", "SON-2026-000001"]),
        max_size=3,
    )
)
def test_random_search_queries_never_cause_a_server_error(client, pnc, query):
    response = client.post("/api/v1/cases/search", json=query, headers=pnc.headers)
    # 400: text the database cannot store (NUL, lone surrogates), refused before the schema.
    assert response.status_code in {200, 400, 422}, (query, response.get_data(as_text=True))
    if response.status_code == 200:
        assert response.get_json()["items"] == []


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_random_bytes_never_cause_a_server_error(client, pnc, raw):
    response = client.post(
        "/api/v1/cases", data=raw, content_type="application/json", headers=pnc.headers
    )
    assert response.status_code in {400, 422}, raw


# ---- 404: no such case -------------------------------------------------------------------


@pytest.mark.parametrize(
    "case_id",
    [
        str(uuid.uuid4()),
        "not-a-uuid",
        "1",
        "00000000-0000-0000-0000-00000000000g",
        "x" * 300,
        "%00",
    ],
    ids=["random-uuid", "word", "number", "bad-hex", "long", "nul"],
)
def test_an_unknown_or_malformed_case_id_is_404(app, client, pnc, case_id):
    post_case(client, pnc, intake())
    before = stored_counts(app)
    read = client.get(f"/api/v1/cases/{case_id}", headers=pnc.headers)
    add = client.post(f"/api/v1/cases/{case_id}/incidents", json=incident(), headers=pnc.headers)
    for response in (read, add):
        assert assert_error(response, 404)["error"] == "not_found"
    after = stored_counts(app)
    # Nothing stored but the two refusals, each an `access_denied` event (CONTRACT §5).
    assert after.pop("AuditEvent") == before.pop("AuditEvent") + 2
    assert after == before


def test_an_unknown_api_path_answers_a_json_error_not_a_login_redirect(client, pnc):
    for path in ("/api/v1/no-such-call", "/api/v1/cases/../../institutions", "/api/v2/cases"):
        response = client.get(path, headers=pnc.headers)
        assert response.status_code in (401, 404), path
        assert_error(response, response.status_code)


# ---- POST /auth/token ----------------------------------------------------------------------


def test_the_right_password_gives_a_token_that_works(app, client):
    with app.app_context():
        create_user(
            db.session,
            app.extensions["ruta.keyring"],
            username="sin.totp",
            institution_code="UMM-SON",
            role="womens_office",
            password=PASSWORD,
            with_totp=False,
        )
        db.session.commit()
    response = token_request(client, "sin.totp", PASSWORD)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"token", "expires_at"}
    assert datetime.fromisoformat(body["expires_at"]) > utcnow()
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert client.get("/api/v1/institutions", headers=headers).status_code == 200
    assert client.post("/api/v1/cases", json=intake(), headers=headers).status_code == 201
    assert "login" in audit_actions(app, "sin.totp")


def test_wrong_password_and_unknown_user_get_the_same_401(app, client, pnc):
    wrong = token_request(client, pnc.username, "not the password", otp(pnc.totp_secret))
    unknown = token_request(client, "nadie.existe", PASSWORD)
    assert_error(wrong, 401)
    assert_error(unknown, 401)
    assert wrong.get_json() == unknown.get_json()
    assert "token" not in wrong.get_json()
    assert audit_actions(app, pnc.username).count("login_failed") == 1
    # The unknown name is not written: what was typed may be a password.
    assert audit_actions(app, "nadie.existe") == []
    with app.app_context():
        failed = (
            db.session.execute(select(AuditEvent).where(AuditEvent.action == "login_failed"))
            .scalars()
            .all()
        )
        assert {e.username for e in failed} == {pnc.username, None}
        assert all(e.user_id in (None, pnc.id) for e in failed)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "x"},
        {"password": "x"},
        {"username": ["a"], "password": "x"},
        {"username": "a", "password": "x", "otp": 123456},
    ],
    ids=["empty", "no-password", "no-username", "list-username", "numeric-otp"],
)
def test_a_malformed_token_request_is_422(client, body):
    assert assert_error(client.post("/api/v1/auth/token", json=body), 422)["fields"]


def test_a_token_request_that_is_not_json_is_400(client):
    response = client.post(
        "/api/v1/auth/token",
        data="username=a&password=b",
        content_type="application/x-www-form-urlencoded",
    )
    assert_error(response, 400)


@pytest.fixture
def mfa_app(tmp_path, database_url) -> Any:
    app = create_app(make_settings(tmp_path, database_url, require_mfa=True))
    with app.app_context():
        load_directory(db.session)
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _enrolled_user(app: Flask, username: str) -> str:
    with app.app_context():
        new = create_user(
            db.session,
            app.extensions["ruta.keyring"],
            username=username,
            institution_code="PNC-SON",
            role="pnc_agent",
            password=PASSWORD,
            with_totp=True,
        )
        db.session.commit()
        assert new.totp_secret
        return new.totp_secret


def test_with_mfa_required_a_missing_or_wrong_code_is_401(mfa_app):
    client = mfa_app.test_client()
    secret = _enrolled_user(mfa_app, "agente.mfa")
    missing = token_request(client, "agente.mfa", PASSWORD)
    wrong = token_request(client, "agente.mfa", PASSWORD, wrong_code(secret))
    unknown = token_request(client, "nadie.mfa", PASSWORD, otp(secret))
    empty = token_request(client, "agente.mfa", PASSWORD, "")
    for response in (missing, wrong, unknown, empty):
        assert_error(response, 401)
    assert missing.get_json() == wrong.get_json() == unknown.get_json() == empty.get_json()
    assert audit_actions(mfa_app, "agente.mfa") == ["login_failed"] * 3


def test_with_mfa_required_the_right_code_works_once(mfa_app):
    client = mfa_app.test_client()
    secret = _enrolled_user(mfa_app, "agente.otp")
    code = otp(secret)

    first = token_request(client, "agente.otp", PASSWORD, code)
    assert first.status_code == 200, first.get_json()
    token = first.get_json()["token"]
    assert (
        client.get("/api/v1/institutions", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )

    replay = token_request(client, "agente.otp", PASSWORD, code)
    assert_error(replay, 401)
    assert "token" not in replay.get_json()
    assert audit_actions(mfa_app, "agente.otp") == ["login", "login_failed"]


def test_with_mfa_required_a_non_ascii_code_is_401_not_500(mfa_app):
    client = mfa_app.test_client()
    _enrolled_user(mfa_app, "agente.digitos")
    for code in ("١٢٣٤٥٦", "１２３４５６"):
        assert_error(token_request(client, "agente.digitos", PASSWORD, code), 401)
