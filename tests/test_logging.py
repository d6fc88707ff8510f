"""The request log (issue 15): one JSON line per request, that no client can split into
two and that never carries an identifier, a query string or a body."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from flask import Flask

from app.core.logging import REQUEST_ID_HEADER
from tests.auth_helpers import api_login, csrf_token, otp, web_login
from tests.conftest import PASSWORD
from tests.factories import VALID_DUI, intake

NAME = "María José López Hernández"
BIRTH_DATE = "1994-03-15"
FORGED = '{"level": "CRITICAL", "logger": "ruta.request", "message": "forjado"}'
REQUEST_FIELDS = {"time", "level", "request_id", "user_id", "route", "method", "status"}


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    """Every line the app wrote to stderr since the last call; each must be JSON."""
    lines = capsys.readouterr().err.splitlines()
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a log line that is not JSON: {line!r}")
    return parsed


def request_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line.get("logger") == "ruta.request"]


def only_request_line(capsys: pytest.CaptureFixture[str]) -> dict:
    lines = log_lines(capsys)
    (line,) = request_lines(lines)
    assert not [other for other in lines if other.get("message") == "forjado"]
    return line


def test_a_request_line_has_the_fields_and_its_id_goes_back(client, pnc, capsys):
    created = client.post("/api/v1/cases", json=intake(), headers=pnc.headers)
    assert created.status_code == 201
    log_lines(capsys)

    read = client.get(f"/api/v1/cases/{created.get_json()['id']}", headers=pnc.headers)

    line = only_request_line(capsys)
    assert set(line) >= REQUEST_FIELDS
    assert line["level"] == "INFO"
    assert datetime.fromisoformat(line["time"]).utcoffset().total_seconds() == 0
    assert re.fullmatch(r"[0-9a-f]{16}", line["request_id"])
    assert read.headers[REQUEST_ID_HEADER] == line["request_id"]
    assert line["user_id"] == pnc.id
    assert line["route"].startswith("/api/v1/cases/<")  # the rule, not the case's id
    assert created.get_json()["id"] not in json.dumps(line)
    assert (line["method"], line["status"]) == ("GET", 200)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0


def test_every_request_gets_its_own_id(client, capsys):
    ids = {client.get("/login").headers[REQUEST_ID_HEADER] for _ in range(3)}
    assert len(ids) == 3
    assert {line["request_id"] for line in request_lines(log_lines(capsys))} == ids


def test_a_request_answered_by_an_earlier_hook_is_logged_too(client, capsys):
    refused = client.get("/api/v1/cases")  # no token: require_token answers 401
    redirected = client.get("/cases/search")  # no session: the login redirect

    lines = request_lines(log_lines(capsys))
    assert [(line["status"], line["user_id"]) for line in lines] == [(401, None), (302, None)]
    assert refused.headers[REQUEST_ID_HEADER] == lines[0]["request_id"]
    assert redirected.headers[REQUEST_ID_HEADER] == lines[1]["request_id"]


def test_forged_newline_in_the_path_makes_no_second_line(client, capsys):
    response = client.get("/nada%0A" + FORGED.replace(" ", "%20") + "%0D%0Amas")
    line = only_request_line(capsys)
    assert (line["status"], line["route"]) == (response.status_code, None)
    assert "forjado" not in json.dumps(line)


def test_forged_newline_in_headers_makes_no_second_line(client, capsys):
    client.get(
        "/login",
        environ_overrides={
            "HTTP_USER_AGENT": f"Mozilla\n{FORGED}",
            "HTTP_REFERER": f"http://x/?dui={VALID_DUI}\r\n{FORGED}",
            "HTTP_X_FORWARDED_FOR": f"10.0.0.1\n{FORGED}",
        },
    )
    line = only_request_line(capsys)
    assert "forjado" not in json.dumps(line) and VALID_DUI not in json.dumps(line)


def test_forged_newline_in_the_username_makes_no_second_line(client, capsys):
    refused = api_login(client, f"ana\n{FORGED}", "una clave cualquiera")
    assert refused.status_code == 401
    assert only_request_line(capsys)["status"] == 401

    page = client.get("/login")
    log_lines(capsys)
    form = {"username": f"ana\r\n{FORGED}", "password": "x", "csrf_token": csrf_token(page.text)}
    client.post("/login", data=form)
    assert only_request_line(capsys)["route"] == "/login"


def test_identifiers_typed_in_searches_and_logins_never_reach_the_log(
    app: Flask, client, pnc, capsys, caplog
):
    assert client.post("/api/v1/cases", json=intake(), headers=pnc.headers).status_code == 201
    for body in ({"dui": VALID_DUI}, {"name": NAME, "birth_date": BIRTH_DATE}):
        found = client.post("/api/v1/cases/search", json=body, headers=pnc.headers)
        assert found.status_code == 200
    in_url = client.get(f"/api/v1/cases?dui={VALID_DUI}&name={NAME}", headers=pnc.headers)
    assert in_url.status_code == 400
    api_login(client, VALID_DUI, BIRTH_DATE)  # someone types her DUI as a username
    assert web_login(client, pnc.username, PASSWORD, otp(pnc.totp_secret)).status_code == 302
    token = csrf_token(client.get("/cases/search").text)
    for form in ({"dui": VALID_DUI}, {"name": NAME, "birth_date": BIRTH_DATE}):
        searched = client.post("/cases/search", data={**form, "csrf_token": token})
        assert searched.status_code == 200

    lines = log_lines(capsys)
    written = json.dumps(lines, ensure_ascii=False) + caplog.text
    assert len(request_lines(lines)) == 10
    leaked = [
        value for value in (VALID_DUI, "12345678", NAME, "López", BIRTH_DATE) if value in written
    ]
    assert leaked == []
    assert "?" not in "".join(str(line.get("route")) for line in lines)


def test_an_unexpected_error_is_one_line_without_the_error_text(app: Flask, client, capsys):
    def broken_view():
        raise ValueError(f"valor de la base: {VALID_DUI}\nsegunda línea")

    app.add_url_rule("/api/roto", view_func=broken_view)

    response = client.get("/api/roto")

    assert response.status_code == 500
    lines = log_lines(capsys)
    (error,) = [line for line in lines if line["level"] == "ERROR"]
    assert "ValueError" in error["message"] and "broken_view" in error["message"]
    assert error["request_id"] == response.headers[REQUEST_ID_HEADER]
    assert VALID_DUI not in json.dumps(lines)
    assert request_lines(lines)[0]["status"] == 500
