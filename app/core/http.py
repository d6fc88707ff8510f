"""How requests reach the app: uploads kept in memory, client addresses behind proxies."""

from __future__ import annotations

from io import BytesIO
from typing import IO

from flask import Flask, Request


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
