"""WSGI entry point: `gunicorn wsgi:app`, and `flask --app wsgi …` for the CLI."""

import logging
import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import NoReturn

from flask import Flask
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from app import create_app
from app.crypto.keyring import KeyFileError
from app.crypto.service import StartupError
from config import ConfigError, Settings

# From "?" to the next space or quote: the query string of a request line, a URL or a
# referrer. Log lines keep the path and lose the query.
_QUERY_STRING = re.compile(r"\?[^\s\"]+")
# gunicorn's access log and its error log ("Error handling request /path?…"), and the
# request lines of werkzeug's server (`flask run`).
SERVER_LOGGERS = ("gunicorn.access", "gunicorn.error", "werkzeug")


class DropQueryStrings(logging.Filter):
    """A query string can carry a DUI, a name or a birth date (an old bookmark, a client
    that ignores the 400): no log line of the server may repeat it (CONTRACT.md §5)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, MutableMapping):  # gunicorn: the atoms of its log format
            for key, value in args.items():
                if isinstance(value, str):
                    args[key] = _QUERY_STRING.sub("", value)
            for bare in ("q", "{query_string}e"):  # the query string without its "?"
                if bare in args:
                    args[bare] = "-"
        elif args:  # werkzeug and gunicorn's error log: the request line is an argument
            record.args = tuple(
                _QUERY_STRING.sub("", arg) if isinstance(arg, str) else arg for arg in args
            )
        elif isinstance(record.msg, str):  # formatted already: nothing to %-format later
            record.msg = _QUERY_STRING.sub("", record.msg)
        return True


def _started_by_flask_cli() -> bool:
    # The CLI must work before the key file exists (`keys init`); a server must not.
    launcher = Path(sys.argv[0])
    return launcher.name == "flask" or launcher.parent.name == "flask"


for _name in SERVER_LOGGERS:
    logging.getLogger(_name).addFilter(DropQueryStrings())

# gunicorn's "App failed to load": its master then stops instead of restarting workers
# that can only fail again. `flask` and `python wsgi.py` exit with it too.
EXIT_CANNOT_START = 4
SIBLING_WAIT_SECONDS = 2.0
IN_SPANISH = {
    StartupError: "faltan las claves o no son las que cifraron estos datos",
    KeyFileError: "el archivo de claves falta o está dañado",
    ConfigError: "una variable de entorno no es válida",
    SQLAlchemyError: "no se puede usar la base de datos (DATABASE_URL)",
}


def _database(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "DATABASE_URL (not a database URL)"


def cannot_start_line(error: Exception, database_url: str) -> str:
    """One line, Spanish then English, for the operator: no traceback, no secret."""
    spanish = next(text for kind, text in IN_SPANISH.items() if isinstance(error, kind))
    if isinstance(error, SQLAlchemyError):
        # Not the driver's text: it may quote the query or parts of the URL.
        english = f"cannot use the database {_database(database_url)}"
    else:
        english = str(error).removeprefix("Ruta cannot start: ")
    english = " ".join(english.split())  # one line, whatever the message held
    return (
        f"Ruta no puede arrancar: {spanish}. / Ruta cannot start: {english} "
        f"[{type(error).__name__}]"
    )


def build_app() -> Flask:
    database_url = ""
    try:
        settings = Settings.from_env()
        database_url = settings.database_url
        return create_app(settings, for_cli=_started_by_flask_cli())
    except (StartupError, KeyFileError, ConfigError, SQLAlchemyError) as error:
        _exit_cannot_start(cannot_start_line(error, database_url))


def _gunicorn_master() -> str | None:
    """The master's pid and start time (Linux): unique even when pids are reused."""
    try:
        stat = Path(f"/proc/{os.getppid()}/stat").read_text()
    except OSError:
        return None
    # The start time is field 22; fields 3 on follow the command name's ")".
    return f"{os.getppid()}-{stat.rsplit(')', 1)[1].split()[19]}"


def _first_worker_to_fail() -> bool:
    """When two gunicorn workers fail, the master reaps the second "App failed to load"
    while it stops and dies with a traceback of its own: so only the first worker to
    fail under this master reports and exits; the others wait to be stopped."""
    master = _gunicorn_master()
    if master is None:
        return True
    marker = Path(tempfile.gettempdir()) / f"ruta-cannot-start-{master}"
    try:
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        # Another user's file must not silence us: only our own sibling's counts.
        return marker.stat().st_uid != os.getuid()
    return True


def _wait_for_the_master_to_stop_us() -> NoReturn:
    for stop in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(stop, lambda *_: os._exit(0))
    # Its stop may have come before these handlers: by now the master is halting anyway.
    time.sleep(SIBLING_WAIT_SECONDS)
    os._exit(0)


def _exit_cannot_start(line: str) -> NoReturn:
    if "gunicorn.arbiter" in sys.modules and not _first_worker_to_fail():
        _wait_for_the_master_to_stop_us()
    print(line, file=sys.stderr, flush=True)
    raise SystemExit(EXIT_CANNOT_START)


app = build_app()
