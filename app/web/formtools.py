"""Glue between WTForms (rendering, CSRF, keeping what was typed) and the marshmallow
schemas and services (the rules): one set of rules for the pages and the API."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, ClassVar, TypeVar

from flask import flash, redirect, request, url_for
from flask_babel import gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from marshmallow import Schema, ValidationError
from werkzeug.wrappers import Response
from wtforms import SelectField, widgets
from wtforms.widgets import html_params

from app.auth.caller import Caller
from app.core.errors import Conflict, InvalidInput
from app.core.transaction import discard_changes

T = TypeVar("T")


@lru_cache(maxsize=8192)
def _option(value: str, label: str, selected: bool) -> Markup:
    options: dict[str, Any] = {"value": value}
    if selected:
        options["selected"] = True
    attributes = Markup(html_params(**options))  # noqa: S704 - html_params escapes each value
    return Markup("<option {}>{}</option>").format(attributes, label)


class OptionCachingSelect(widgets.Select):
    """WTForms' select, with each option's HTML kept once made: the case page carries a
    263-district list, and building each option's attributes was most of its rendering."""

    @classmethod
    def render_option(cls, choice: Any, **kwargs: Any) -> Markup:
        if kwargs or choice.render_kw:
            return super().render_option(choice, **kwargs)
        value = str(choice.value)
        # A catalogue's Spanish label (a service, a measure) is shown in the page's language.
        return _option(value, gettext(str(choice.label or value)), bool(choice.selected))


def Select(*args: Any, **kwargs: Any) -> SelectField:
    """A select whose codes are checked by the schemas, not twice by WTForms."""
    kwargs.setdefault("widget", OptionCachingSelect())
    return SelectField(*args, validate_choice=False, **kwargs)


class Needed:
    """Marks a field the rules require (the schemas and services check it, not WTForms):
    `_form.html` draws it with a visible mark and `aria-required="true"`."""

    field_flags: ClassVar[dict[str, bool]] = {"needed": True}

    def __call__(self, form: Any, field: Any) -> None:
        return None


NEEDED = [Needed()]


def flatten(messages: Mapping[str, Any], prefix: str = "") -> dict[str, list[str]]:
    """{"survivor": {"dui": ["…"]}} → {"survivor.dui": ["…"]}."""
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = [str(v) for v in (value if isinstance(value, list) else [value])]
    return flat


def show_errors(
    form: FlaskForm, messages: Mapping[str, Any], names: Mapping[str, str]
) -> list[str]:
    """Put each message next to its field; return those that belong to no field."""
    leftovers = []
    for path, texts in flatten(messages).items():
        field = getattr(form, names.get(path, path.split(".")[-1]), None)
        if field is None or not hasattr(field, "errors"):
            leftovers.extend(texts)
            continue
        field.errors = list(field.errors or []) + texts
    return leftovers


def attempt(
    form: FlaskForm, names: Mapping[str, str], action: Callable[[], T]
) -> tuple[T | None, list[str]]:
    """Run schema + service; on bad input roll back and hand the messages to the form."""
    try:
        return action(), []
    except ValidationError as error:
        discard_changes()
        messages = error.messages if isinstance(error.messages, dict) else {"_": error.messages}
        return None, show_errors(form, messages, names)
    except InvalidInput as error:
        discard_changes()
        return None, show_errors(form, error.fields or {"_": [error.message]}, names)


def load(schema: type[Schema], data: dict[str, Any]) -> dict[str, Any]:
    return schema().load(data)


def blank_to_none(value: Any) -> Any:
    return None if value in ("", []) else value


def web_caller() -> Caller:
    """The one place the pages say who is asking."""
    return Caller(current_user._get_current_object(), request.remote_addr, "web")


def form_data(form: Any, *names: str) -> dict[str, Any]:
    """The named fields' values for a schema: dates as ISO text, blanks left out."""
    values = {}
    for name in names:
        value = getattr(form, name).data
        value = value.isoformat() if hasattr(value, "isoformat") else blank_to_none(value)
        if value is not None:
            values[name] = value
    return values


def back_to_case(case_id: Any, anchor: str, message: str) -> Response:
    flash(message, "info")
    return redirect(url_for("cases.case_page", case_id=case_id, _anchor=anchor or None), code=303)


def submit(
    case_id: str,
    form_name: str,
    form: Any,
    action: Callable[[], Any],
    anchor: str,
    message: str,
    **shown: Any,
) -> Response:
    """Validate CSRF and run the service; on success, or on a refusal (bad input, a
    closed case, a stale version), redirect to the case page at the form's section (post/
    redirect/get): a refused form comes back there once, with what was typed and its
    errors (app/web/stash.py). `shown`: what else the page needs to put the errors in
    place (which incident's form)."""
    # Both build on this module (web_caller), so they are imported when first needed.
    from app.web.errors import conflict_text
    from app.web.stash import refused

    if not form.validate_on_submit():
        return refused(case_id, form_name, form, [], anchor, **shown)
    try:
        result, problems = attempt(form, {}, action)
    except Conflict as error:
        discard_changes()
        return refused(case_id, form_name, form, [conflict_text(error)], anchor, **shown)
    if result is None:
        return refused(case_id, form_name, form, problems, anchor, **shown)
    return back_to_case(case_id, anchor, message)
