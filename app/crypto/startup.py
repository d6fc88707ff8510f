"""Start-up checks: the Flask secret and the key file must be present and right."""

from __future__ import annotations

from flask import Flask

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
