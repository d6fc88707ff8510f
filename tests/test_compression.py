"""gzip for text answers: pages, stylesheets, scripts and JSON, when the client takes it.

Left alone: clients that do not take gzip, downloads, tiny bodies, and (BREACH, see
docs/security.md) HTML answers to requests that carried input.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable

from flask import Flask, Response, jsonify

from app.core.compress import MIN_SIZE, gzip_response
from tests.auth_helpers import csrf_token

GZIP = {"Accept-Encoding": "gzip, deflate"}
_TOKEN = re.compile(r'value="[^"]+"')


def unzipped(response) -> str:
    return gzip.decompress(response.get_data()).decode()


def assert_gzipped(response) -> None:
    assert response.headers.get("Content-Encoding") == "gzip"
    assert "Accept-Encoding" in response.headers.get("Vary", "")
    assert int(response.headers["Content-Length"]) == len(response.get_data())


def assert_plain(response) -> None:
    assert "Content-Encoding" not in response.headers
    assert int(response.headers["Content-Length"]) == len(response.get_data())


def test_a_page_is_gzipped_for_a_browser_that_takes_it(client):
    zipped = client.get("/login", headers=GZIP)
    assert zipped.status_code == 200
    assert_gzipped(zipped)
    plain = client.get("/login")
    assert_plain(plain)
    assert "Accept-Encoding" in plain.headers["Vary"]  # so no cache hands one to the other
    # The same page: only the CSRF token's signature (it carries the time) may differ.
    assert _TOKEN.sub("", unzipped(zipped)) == _TOKEN.sub("", plain.get_data(as_text=True))


def test_a_client_that_refuses_gzip_gets_the_page_plain(client):
    assert_plain(client.get("/login", headers={"Accept-Encoding": "gzip;q=0, identity"}))
    assert_plain(client.get("/login", headers={"Accept-Encoding": "br"}))


def test_stylesheets_and_scripts_are_gzipped_and_still_revalidate(client):
    for path, mimetype in (
        ("/static/css/ruta.css", "text/css"),
        ("/static/js/ruta.js", "text/javascript"),
    ):
        first = client.get(path, headers=GZIP)
        assert first.status_code == 200
        assert first.mimetype == mimetype
        assert_gzipped(first)
        with client.application.open_resource(path.removeprefix("/")) as source:
            assert unzipped(first).encode() == source.read()
        etag = first.headers["ETag"]
        assert etag.startswith('W/"'), etag  # another encoding of the same file
        with client.get(path, headers={**GZIP, "If-None-Match": etag}) as again:
            assert again.status_code == 304
            assert not again.get_data()
        with client.get(path) as plain:  # a file sent as it is: closed by `with`
            assert_plain(plain)


def test_api_json_is_gzipped(client):
    answer = client.get("/api/v1/openapi.json", headers=GZIP)
    assert answer.status_code == 200, answer.status_code
    assert_gzipped(answer)
    assert '"openapi"' in unzipped(answer)


def test_html_answering_a_form_post_is_not_gzipped(client):
    """A failed login writes the typed username back next to a CSRF token: BREACH."""
    page = client.get("/login")
    answer = client.post(
        "/login",
        data={
            "username": "guess-of-the-token",
            "password": "wrong",
            "otp": "",
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
        headers=GZIP,
    )
    assert answer.mimetype == "text/html"
    assert len(answer.get_data()) >= MIN_SIZE
    assert_plain(answer)
    assert "guess-of-the-token" in answer.get_data(as_text=True)


def test_html_for_a_query_string_is_not_gzipped(client):
    answer = client.get("/login?next=/cases/guess", headers=GZIP)
    assert answer.status_code == 200
    assert_plain(answer)


def probe(app: Flask, make: Callable[[], Response]) -> Response:
    """`gzip_response` on an answer to a GET of the API that takes gzip."""
    with app.test_request_context("/api/v1/probe", headers=GZIP):
        return gzip_response(make())


def big_json() -> Response:
    return jsonify(items=["x" * 40] * 100)


def test_downloads_are_never_gzipped(app):
    def export() -> Response:
        answer = big_json()
        answer.headers["Content-Disposition"] = 'attachment; filename="audit.json"'
        return answer

    assert_plain(probe(app, export))
    assert_gzipped(probe(app, big_json))


def test_tiny_bodies_are_not_gzipped(app):
    assert_plain(probe(app, lambda: jsonify(ok=True)))


def test_other_types_and_empty_answers_are_left_alone(app):
    assert_plain(probe(app, lambda: Response("a,b\n" * 500, mimetype="text/csv")))
    assert "Content-Encoding" not in probe(app, lambda: Response(status=304)).headers
