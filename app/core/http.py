"""How requests reach the app: uploads kept in memory, client addresses behind proxies,
and only over TLS once it has been reached over TLS (HSTS)."""

from __future__ import annotations

import hashlib
from io import BytesIO
from typing import IO

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSessionInterface

# The HMAC of every signed cookie (ASVS 11.4.1): itsdangerous defaults to SHA-1, which
# the standard no longer counts as approved; a cookie signed with it is refused.
COOKIE_DIGEST = hashlib.sha256


class Sha256SessionInterface(SecureCookieSessionInterface):
    """Flask's signed session cookie, with HMAC-SHA-256 instead of HMAC-SHA-1."""

    digest_method = staticmethod(COOKIE_DIGEST)


class InMemoryUploadRequest(Request):
    """Uploads stay in memory: Werkzeug would spool files over 500 KB to a temporary
    file, and a survivor's document must never touch the disk unencrypted."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return BytesIO()


def sign_cookies_with_sha256(app: Flask) -> None:
    app.session_interface = Sha256SessionInterface()


def use_in_memory_uploads(app: Flask) -> None:
    app.request_class = InMemoryUploadRequest


def trust_proxies(app: Flask) -> None:
    """Behind TLS proxies, the client's address (rate limits, audit) is in X-Forwarded-For;
    trusting it without a proxy would let anyone choose the address they are logged as."""
    count = app.config.get("RUTA_PROXIES", 0)
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]


# A year, subdomains included: a browser that has seen Ruta once never tries plain HTTP
# again, so a hostile network (a café, a shared office) cannot strip TLS from a login.
HSTS = "max-age=31536000; includeSubDomains"


def send_hsts(app: Flask) -> None:
    """Every answer carries HSTS when cookies are TLS-only (RUTA_SECURE_COOKIES=1)."""
    if not app.config.get("RUTA_SECURE_COOKIES"):
        return

    def add_hsts(response: Response) -> Response:
        response.headers["Strict-Transport-Security"] = HSTS
        return response

    app.after_request(add_hsts)
