"""Start-up checks: the Flask secret and the key file must be present and right; a
production server without an antivirus for uploads says so."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from app.crypto.keyring import KeyFileError, KeyRing
from app.crypto.service import StartupError, verify_or_create_canary
from app.extensions import db

SECRETS_DOC = "docs/deployment-secrets.md"


def missing_credential(directory: Path, name: str) -> str:
    return (
        f"the credential {name} is not in CREDENTIALS_DIRECTORY {directory}: add "
        f"`LoadCredentialEncrypted={name}:/etc/credstore.encrypted/{name}` to the unit "
        f"({SECRETS_DOC})"
    )


log = logging.getLogger("ruta.startup")
NO_ANTIVIRUS = (
    "Los archivos subidos no pasan por un antivirus: RUTA_CLAMD está vacío. / "
    "Uploads are not scanned by an antivirus: RUTA_CLAMD is empty; set it to clamd's "
    "socket (docs/deployment-antivirus.md)."
)


def require_secret_key(app: Flask, *, strict: bool) -> None:
    if app.config.get("SECRET_KEY") or not strict:
        return
    credentials: Path | None = app.config.get("RUTA_CREDENTIALS_DIR")
    if credentials is not None:
        raise StartupError(f"no Flask secret: {missing_credential(credentials, 'ruta-secret-key')}")
    raise StartupError("no Flask secret: set RUTA_SECRET_KEY or run `flask --app wsgi keys init`")


def load_keys(app: Flask, *, strict: bool) -> None:
    """Load the key ring and check it against the database's canary."""
    path = app.config["RUTA_KEY_FILE"]
    credentials: Path | None = app.config.get("RUTA_CREDENTIALS_DIR")
    if credentials is not None and not path.exists():
        # Even for the CLI: `keys init` cannot write a credential.
        raise StartupError(f"Ruta cannot start: {missing_credential(credentials, path.name)}")
    try:
        ring = KeyRing(path)
    except KeyFileError as exc:
        if strict or path.exists():
            raise StartupError(f"Ruta cannot start: {exc}") from exc
        return  # CLI before `keys init`
    give_statistics_key(ring, credentials)
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


def give_statistics_key(ring: KeyRing, credentials: Path | None) -> None:
    """A key file from before survivor codes gets its statistics key, the others kept.
    A systemd credential is a read-only copy: the operator adds it offline."""
    if ring.has_statistics_key:
        return
    if credentials is not None:
        raise StartupError(
            f"Ruta cannot start: the key file {ring.path} has no statistics key; run "
            f"`flask --app wsgi keys init` on it offline ({SECRETS_DOC})"
        )
    ring.add_statistics_key()


def warn_if_uploads_unscanned(app: Flask, *, strict: bool) -> None:
    """Production (secure cookies) is not to run without a scanner unnoticed; the demo
    of ./run.sh and the tests serve plain HTTP and may. Commands (for_cli) stay quiet."""
    if strict and app.config.get("RUTA_SECURE_COOKIES") and not app.config.get("RUTA_CLAMD"):
        log.warning(NO_ANTIVIRUS)
