"""One JSON line per request, and the same JSON for every other line the app logs.

Threat: logs travel far from the database (hosting staff, log shippers, a support
ticket). A line must carry no identifier (DUI, name, phone, birth date): so a request
line names the route it matched, never the raw path, the query string, a header or a
body. And no client may forge a line: JSON escapes the newlines and control characters
that anyone managed to put into a message. (The servers' own access lines stay as
they were, without query strings: `wsgi.py` filters them.)
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from flask.logging import default_handler

REQUEST_ID_HEADER = "X-Request-Id"
APP_LOGGER = "ruta"
# Where a request line keeps its fields on the log record (logging's `extra`).
REQUEST_FIELDS = "ruta_request"

log = logging.getLogger("ruta.request")
# Built once: `json.dumps` with any option builds a new encoder for every line.
_encode = json.JSONEncoder(ensure_ascii=True, default=str).encode


class JsonFormatter(logging.Formatter):
    """A record as one JSON object on one line; an exception as its type and trace only,
    since its text can carry request data (SQL parameters, field values)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            line["request_id"] = g.get("request_id")
        line.update(getattr(record, REQUEST_FIELDS, {}))
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
            line["trace"] = "".join(traceback.format_tb(record.exc_info[2]))
        return _encode(line)


class StderrHandler(logging.StreamHandler):
    """Writes to the standard error of the moment: servers and test runners replace it."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _json_handler() -> logging.Handler:
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    return handler


def use_json_lines(app: Flask) -> None:
    """The app's logger and Flask's log JSON lines to stderr (once per process)."""
    for logger in (logging.getLogger(APP_LOGGER), app.logger):
        logger.removeHandler(default_handler)
        if not any(isinstance(each, StderrHandler) for each in logger.handlers):
            logger.addHandler(_json_handler())
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)


def start_request() -> None:
    g.request_id = secrets.token_hex(8)
    g.request_started = time.perf_counter()


def request_fields(status: int, user_id: int | None) -> dict[str, Any]:
    """What a request line says: all chosen by the server, nothing typed by the client
    but the method (a token the HTTP parser checked)."""
    started = g.get("request_started")
    return {
        "user_id": user_id,
        "route": request.url_rule.rule if request.url_rule else None,
        "endpoint": request.endpoint,
        "method": request.method,
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
    }


def finish_request(response: Response, user_id: Callable[[], int | None]) -> Response:
    if g.get("request_logged"):
        return response  # an after-request hook failed and the error page came back here
    g.request_logged = True
    if "request_id" not in g:
        start_request()  # a hook before ours answered first
    response.headers[REQUEST_ID_HEADER] = g.request_id
    log.info("request", extra={REQUEST_FIELDS: request_fields(response.status_code, user_id())})
    return response


def log_requests(app: Flask, user_id: Callable[[], int | None]) -> None:
    """One line per request. `user_id` names the signed-in user without a query."""
    use_json_lines(app)
    # First before every other hook, and last after them: each request gets its id even
    # when another hook answers it, and its line tells the status that really went out.
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)
    app.after_request_funcs.setdefault(None, []).insert(
        0, lambda response: finish_request(response, user_id)
    )
