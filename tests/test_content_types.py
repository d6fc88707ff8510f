"""Every text answer names its character set (ASVS 4.1.1): a browser left to guess the
encoding of a page, a stylesheet or a plain-text answer may read it as something else."""

from __future__ import annotations

import pytest

from tests.auth_helpers import start_web_session

PUBLIC_TEXT = (
    "/healthz",
    "/login",
    "/status",
    "/no-such-page",
    "/static/css/ruta.css",
    "/static/js/ruta.js",
    "/static/favicon.svg",
)


def _assert_charset(response, path: str) -> None:
    content_type = response.headers.get("Content-Type", "")
    if content_type.startswith(("text/", "image/svg+xml", "application/javascript")):
        assert "charset=utf-8" in content_type.lower(), (path, content_type)


@pytest.mark.parametrize("path", PUBLIC_TEXT)
def test_public_text_answers_name_their_charset(client, path):
    response = client.get(path)
    assert response.status_code in (200, 302, 404), (path, response.status_code)
    _assert_charset(response, path)
    response.close()


def test_health_check_is_utf8_plain_text(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.get_data(as_text=True) == "ok"


def test_signed_in_pages_and_csv_name_their_charset(app, supervisor):
    browser = app.test_client()
    start_web_session(app, browser, supervisor.username)
    for path in ("/", "/account/sessions", "/reports/stats.csv?by=sex"):
        response = browser.get(path)
        assert response.status_code == 200, (path, response.status_code)
        _assert_charset(response, path)
