"""The survivor's public status page: code and PIN in, stage and next step out.

Sent by POST so neither the code nor the answer lands in the browser's history or in a
URL; no-store (set for every page) keeps it out of the cache; autocomplete is off so a
shared computer does not offer the code to the next person. The quick-exit link leaves
for a neutral page at once. `/robots.txt`, the other page anyone may open, lives here too.
"""

from __future__ import annotations

from flask import Response, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.core.errors import NotFound
from app.crypto.service import get_keyring
from app.extensions import db, limiter
from app.status.service import (
    NOT_FOUND_MESSAGE,
    PER_ADDRESS_LIMIT,
    StatusLookupThrottled,
    look_up_status,
)
from app.web.dashboard import public

QUICK_EXIT_URL = "https://www.google.com/search?q=clima"
PAGE = "public/status.html"
# No page of Ruta belongs in a search engine: a listed login or status page tells whoever
# searches that an office uses it (every answer also says so in X-Robots-Tag).
ROBOTS_TXT = "User-agent: *\nDisallow: /\n"


class StatusForm(FlaskForm):
    code = StringField(
        _l("Código de su hoja"),
        validators=[DataRequired(), Length(max=40)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )
    pin = PasswordField(
        _l("PIN (6 números)"),
        validators=[DataRequired(), Length(max=20)],
        render_kw={"autocomplete": "off", "inputmode": "numeric"},
    )


def wrong_pair(response: Response) -> bool:
    return response.status_code == 404


@public.route("/status", methods=["GET", "POST"])
@limiter.shared_limit(
    PER_ADDRESS_LIMIT, scope="status-lookup", deduct_when=wrong_pair, methods=["POST"]
)
def status() -> str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    form = StatusForm()
    if not form.validate_on_submit():
        return render_template(PAGE, form=form, quick_exit=QUICK_EXIT_URL)
    # Every answer comes with a blank form: what was typed is not written back into the page.
    page = {"form": StatusForm(formdata=None), "quick_exit": QUICK_EXIT_URL}
    try:
        stage = look_up_status(db.session, get_keyring(), form.code.data or "", form.pin.data or "")
    except NotFound:
        return render_template(PAGE, **page, error=_(NOT_FOUND_MESSAGE)), 404
    except StatusLookupThrottled as error:
        message = _(
            "Demasiados intentos con este código. Espere %(seconds)s segundos.",
            seconds=error.retry_after,
        )
        headers = {"Retry-After": str(error.retry_after)}
        return render_template(PAGE, **page, error=message), 429, headers
    return render_template(PAGE, **page, stage=stage)


@public.get("/robots.txt")
def robots() -> tuple[str, int, dict[str, str]]:
    return ROBOTS_TXT, 200, {"Content-Type": "text/plain; charset=utf-8"}
