"""How requests reach the app: uploads kept in memory, client addresses behind proxies,
and only over TLS once it has been reached over TLS (HSTS)."""

from __future__ import annotations

import hashlib
from io import BytesIO
from typing import IO, Any

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


# ---- a pooled connection the database dropped ---------------------------------------------

# Set by the 503 handler when a read met a connection the database had closed.
RETRY_READ = "ruta.retry_read"
SAFE_METHODS = frozenset({"GET", "HEAD"})


def mark_read_for_retry(environ: dict[str, Any], connection_invalidated: bool) -> bool:
    """A GET or HEAD whose first try met a dead pooled connection is tried once more:
    the pool has dropped its connections meanwhile, and a read changes nothing."""
    if not connection_invalidated or environ.get("REQUEST_METHOD") not in SAFE_METHODS:
        return False
    if environ.get(RETRY_READ) is not None:
        return False  # already the second try
    environ[RETRY_READ] = True
    return True


class RetryReadsOnDeadConnection:
    """Instead of pinging the database before every request (one more round trip each),
    the pool recycles old connections and a read that meets a dropped one is answered
    by a second try; a write gets the 503 with Retry-After it always got."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        held: list[Any] = []

        def hold(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            held[:] = [status, headers, exc_info]
            return lambda data: None  # the first try's body is never sent

        answer = self.wsgi_app(environ, hold)
        if environ.get(RETRY_READ):
            environ[RETRY_READ] = False  # tried: the second answer goes out as it is
            if hasattr(answer, "close"):
                answer.close()
            return self.wsgi_app(environ, start_response)
        start_response(*held)
        return answer


def retry_reads_on_dead_connection(app: Flask) -> None:
    app.wsgi_app = RetryReadsOnDeadConnection(app.wsgi_app)  # type: ignore[method-assign]


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
