"""Template helpers: locale, local dates, security headers and HTML error pages."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, Response, has_request_context, render_template, request, session
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from app.auth.models import CASE_ROLES
from app.core.time import LOCAL_TZ
from app.notifications.service import KINDS

LOCALES = ("es", "en")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors 'none'"
)


ROBOTS = "noindex, nofollow"


def select_locale() -> str:
    """The language she chose in the header; Spanish outside a request (the CLI)."""
    if not has_request_context():
        return "es"
    chosen = session.get("lang")
    return chosen if chosen in LOCALES else "es"


def local_datetime(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M") if value else ""


def local_date(value: object) -> str:
    return value.strftime("%d/%m/%Y") if hasattr(value, "strftime") else ""


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    # No search engine lists or keeps any answer, the API's and the files' included.
    headers["X-Robots-Tag"] = ROBOTS
    if request.endpoint != "static":
        # Case data must never sit in a shared PC's cache or history.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    return response


ERROR_TEXTS = {
    400: (_l("Solicitud no válida"), _l("La solicitud no se pudo procesar.")),
    403: (_l("Sin permiso"), _l("Su cuenta no tiene permiso para esta acción.")),
    404: (_l("No encontrado"), _l("La página o el expediente no existe, o no tiene acceso a él.")),
    405: (_l("No permitido"), _l("Esta acción no está permitida aquí.")),
    409: (
        _l("Conflicto"),
        _l("Alguien cambió este registro mientras usted lo editaba. Recargue la página."),
    ),
    413: (_l("Archivo demasiado grande"), _l("El archivo supera el tamaño permitido.")),
    429: (_l("Demasiados intentos"), _l("Espere un momento antes de volver a intentarlo.")),
    500: (_l("Error inesperado"), _l("Ocurrió un error. Quedó registrado; intente de nuevo.")),
}


def html_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    title, message = ERROR_TEXTS.get(status, (_l("Error"), _l("Error")))
    # `bare`: no forms, so an error page (a missing favicon, say) never mints a CSRF token
    # that would replace the one of the page the user is filling in.
    return render_template("errors/error.html", title=title, message=message, bare=True), status


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["localdatetime"] = local_datetime
    app.jinja_env.filters["localdate"] = local_date
    app.jinja_env.globals["case_roles"] = CASE_ROLES
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale() or "es")
    app.jinja_env.globals["notification_label"] = lambda kind: _(KINDS.get(kind, kind))
    app.after_request(add_security_headers)
