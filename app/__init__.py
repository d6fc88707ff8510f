"""Ruta: the application factory. Wiring only; each step is a named function."""

from __future__ import annotations

from typing import Any

from flask import Flask

from config import INSTANCE_DIR, Settings


def create_app(settings: Settings | None = None, *, for_cli: bool = False) -> Flask:
    """Build the app. A server refuses to start without working keys; the CLI may,
    so that `keys init` and `db upgrade` can run first."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.from_mapping(settings.to_flask())
    register_extensions(app)
    register_security(app, for_cli=for_cli)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (every mapper known before first use)
    from app.core.messages import use_spanish_messages
    from app.extensions import babel, csrf, db, limiter, login, migrate
    from app.web.helpers import select_locale

    use_spanish_messages()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    login.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    with app.app_context():
        configure_engine(db.engine)


def configure_engine(engine: Any) -> None:
    from app.core.db import configure_postgresql, configure_sqlite

    if engine.dialect.name == "sqlite":
        configure_sqlite(engine)
    elif engine.dialect.name == "postgresql":
        configure_postgresql(engine)


def register_security(app: Flask, *, for_cli: bool) -> None:
    from app.core.compress import compress_responses
    from app.core.http import (
        retry_reads_on_dead_connection,
        send_hsts,
        sign_cookies_with_sha256,
        trust_proxies,
        use_in_memory_uploads,
    )
    from app.core.ids import use_id_converter
    from app.core.logging import log_requests
    from app.crypto.startup import load_keys, require_secret_key, warn_if_uploads_unscanned
    from app.web.helpers import register_template_helpers
    from app.web.labels import register_labels
    from app.web.login import init_web_login

    compress_responses(app)  # before log_requests: its hook must run last but one
    log_requests(app, user_id=signed_in_user_id)
    use_in_memory_uploads(app)
    sign_cookies_with_sha256(app)
    use_id_converter(app.url_map)  # before the blueprints add their routes
    trust_proxies(app)
    retry_reads_on_dead_connection(app)  # inside ProxyFix: it sees the request as served
    send_hsts(app)
    require_secret_key(app, strict=not for_cli)
    load_keys(app, strict=not for_cli)
    warn_if_uploads_unscanned(app, strict=not for_cli)
    init_web_login(app)
    register_template_helpers(app)
    register_labels(app)


def signed_in_user_id() -> int | None:
    """The user the API token or the web session named, read from what each login left
    in `g` (Flask-Login keeps its user in `g._login_user`): asking `current_user`, or
    the user's `id` after the commit expired it, would cost a query on every request."""
    from flask import g
    from sqlalchemy import inspect

    user = g.get("api_user") or g.get("_login_user")
    state = inspect(user, raiseerr=False) if user is not None else None
    return state.identity[0] if state is not None and state.identity else None


def register_blueprints(app: Flask) -> None:
    from app.api import register_api
    from app.web import register_pages

    register_api(app)
    register_pages(app)


def register_errorhandlers(app: Flask) -> None:
    from app.api.errors import API
    from app.audit.anchors import AutoAnchor
    from app.cases.service import conflict_to_keep, refusal_to_keep
    from app.core.errorhandling import register_error_handlers
    from app.core.transaction import register_transaction
    from app.crypto.service import get_keyring
    from app.extensions import db
    from app.web.errors import PAGES

    register_error_handlers(
        app,
        faces=(API, PAGES),
        on_refusal=lambda caller, args, status, endpoint: refusal_to_keep(
            get_keyring(), db.session, caller, args, status, endpoint
        ),
        on_domain_error=lambda caller, error: conflict_to_keep(
            get_keyring(), db.session, caller, error
        ),
    )
    anchoring = AutoAnchor(
        app.config["RUTA_AUDIT_ANCHOR_DIR"],
        app.config["RUTA_AUDIT_ANCHOR_SECONDS"],
        app.config["RUTA_AUDIT_SEAL_SECONDS"],
    )
    app.extensions["ruta.anchoring"] = anchoring
    # Commits what a view did unless an error handler ran; then, when the request wrote
    # to the audit log, seals it if the last seal is old and anchors it if the anchor is.
    register_transaction(
        app,
        after_commit=lambda: anchoring.after_commit(db.session, lambda: get_keyring().audit_keys),
    )


def register_commands(app: Flask) -> None:
    from app.cli.commands import register

    register(app)
