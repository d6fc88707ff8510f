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
    from app.extensions import babel, csrf, db, limiter, login, migrate
    from app.web_helpers import select_locale

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    login.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    with app.app_context():
        configure_engine(db.engine)


def configure_engine(engine: Any) -> None:
    from app.db_setup import configure_sqlite

    if engine.dialect.name == "sqlite":
        configure_sqlite(engine)


def register_security(app: Flask, *, for_cli: bool) -> None:
    from app.auth.web import init_web_login
    from app.labels import register_labels
    from app.security import (
        load_keys,
        require_secret_key,
        trust_proxies,
        use_in_memory_uploads,
    )
    from app.web_helpers import register_template_helpers

    use_in_memory_uploads(app)
    trust_proxies(app)
    require_secret_key(app, strict=not for_cli)
    load_keys(app, strict=not for_cli)
    init_web_login(app)
    register_template_helpers(app)
    register_labels(app)


def register_blueprints(app: Flask) -> None:
    from app.api import bp as api_bp
    from app.audit.routes import bp as audit_pages_bp
    from app.auth.admin_routes import bp as admin_bp
    from app.auth.routes import bp as auth_bp
    from app.cases import search_routes as _search_page  # noqa: F401  (adds /cases/search)
    from app.cases.care_routes import bp as case_forms_bp
    from app.cases.routes import bp as cases_bp
    from app.extensions import csrf
    from app.main.routes import bp as main_bp
    from app.main.routes import public as public_bp
    from app.main.status import status as _status_page  # noqa: F401  (adds /status to public)
    from app.referrals.routes import bp as referrals_bp
    from app.reports.routes import bp as reports_bp

    csrf.exempt(api_bp)  # bearer tokens, not cookies: no CSRF exposure
    for blueprint in (
        api_bp,
        auth_bp,
        main_bp,
        public_bp,
        cases_bp,
        case_forms_bp,
        referrals_bp,
        audit_pages_bp,
        admin_bp,
        reports_bp,
    ):
        app.register_blueprint(blueprint)


def register_errorhandlers(app: Flask) -> None:
    from app.core.transaction import register_transaction
    from app.errors import register

    register(app)
    register_transaction(app)  # commits what a view did unless an error handler ran


def register_commands(app: Flask) -> None:
    from app.commands import register

    register(app)
