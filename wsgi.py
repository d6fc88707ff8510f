"""WSGI entry point: `gunicorn wsgi:app`, and `flask --app wsgi …` for the CLI."""

import sys
from pathlib import Path

from app import create_app
from config import Settings


def _started_by_flask_cli() -> bool:
    # The CLI must work before the key file exists (`keys init`); a server must not.
    launcher = Path(sys.argv[0])
    return launcher.name == "flask" or launcher.parent.name == "flask"


app = create_app(Settings.from_env(), for_cli=_started_by_flask_cli())
