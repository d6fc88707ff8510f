"""WSGI entry point: `gunicorn wsgi:app`, and `flask --app wsgi …` for the CLI."""

import logging
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path

from app import create_app
from config import Settings

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

app = create_app(Settings.from_env(), for_cli=_started_by_flask_cli())
