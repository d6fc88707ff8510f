"""How the pages answer errors: a plain page in her language, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions

from app.core.errorhandling import Face
from app.core.errors import CaseClosed, DomainError
from app.web.formtools import web_caller
from app.web.helpers import ERROR_TEXTS, html_error

log = logging.getLogger("ruta")


def page_error(error: HTTPException) -> ResponseReturnValue:
    if isinstance(error, CSRFError):
        log.warning("refused %s %s: %s", request.method, request.path, error.description)
    if error.code == 503:
        return unavailable_page()
    return html_error(error)


def conflict_text(error: DomainError) -> str:
    """What a person reads of a conflict: a closed case in its own words (what to do is
    reopen it); any other (a stale version) as the plain 409 text."""
    if isinstance(error, CaseClosed):
        return error.message
    return str(ERROR_TEXTS[409][1])


def page_refusal(error: DomainError) -> ResponseReturnValue:
    """A page asked for something a service refused (not found, not allowed…)."""
    if isinstance(error, CaseClosed):
        return render_template(
            "errors/error.html", title=_("Caso cerrado"), message=conflict_text(error), bare=True
        ), error.status
    if error.status == 503:
        return unavailable_page()
    title = getattr(error, "title", None)
    if title:  # a refusal that explains itself (the read cap)
        page = render_template("errors/error.html", title=_(title), message=error.message)
        return page, error.status, {"Retry-After": str(getattr(error, "retry_after", 60))}
    return html_error(default_exceptions.get(error.status, InternalServerError)())


def unavailable_page() -> ResponseReturnValue:
    """A page of its own, rendered without the context processors: the usual ones ask
    who is signed in, and that needs the database that may be what is down."""
    page = current_app.jinja_env.get_template("errors/unavailable.html")
    return page.render(), 503


def signed_in_caller() -> Any | None:
    return web_caller() if current_user.is_authenticated else None


PAGES = Face(
    owns=lambda: True, http_error=page_error, domain_error=page_refusal, caller=signed_in_caller
)
