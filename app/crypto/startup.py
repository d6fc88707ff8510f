"""Start-up checks: the Flask secret and the key file must be present and right."""

from __future__ import annotations

from io import BytesIO
from typing import IO

from flask import Flask, Request

from app.crypto.keyring import KeyFileError, KeyRing
from app.crypto.service import StartupError, verify_or_create_canary
from app.extensions import db


def require_secret_key(app: Flask, *, strict: bool) -> None:
    if not app.config.get("SECRET_KEY") and strict:
        raise StartupError(
            "no Flask secret: set RUTA_SECRET_KEY or run `flask --app wsgi keys init`"
        )


def load_keys(app: Flask, *, strict: bool) -> None:
    """Load the key ring and check it against the database's canary."""
    path = app.config["RUTA_KEY_FILE"]
    try:
        ring = KeyRing(path)
    except KeyFileError as exc:
        if strict or path.exists():
            raise StartupError(f"Ruta cannot start: {exc}") from exc
        return  # CLI before `keys init`
    with app.app_context():
        try:
            verify_or_create_canary(db.session, ring)
        except StartupError:
            db.session.remove()
            db.engine.dispose()  # a refused app leaves no database connection open
            raise
        finally:
            db.session.remove()
    app.extensions["ruta.keyring"] = ring


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


def use_in_memory_uploads(app: Flask) -> None:
    app.request_class = InMemoryUploadRequest


def trust_proxies(app: Flask) -> None:
    """Behind TLS proxies, the client's address (rate limits, audit) is in X-Forwarded-For;
    trusting it without a proxy would let anyone choose the address they are logged as."""
    count = app.config.get("RUTA_PROXIES", 0)
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]
