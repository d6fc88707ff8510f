"""Post/redirect/get for the case pages: a refused form crosses the redirect sealed.

A form that fails answers 303 to the page it belongs to (the case page at the form's
section, or its own page); the next GET of that page shows it again with what she typed
and the errors, once. What she typed is survivor data: it goes into the sealed store of
app/crypto/stash.py, and the session cookie (signed, not encrypted) carries only the
stash's random id. Passwords and the CSRF token are never kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from flask import redirect, request, session, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from app.cases import access, policy
from app.core.ids import parse_uuid
from app.crypto import stash
from app.crypto.service import get_keyring
from app.extensions import db
from app.web.formtools import web_caller

FORM_PURPOSE = "form"
SLIP_PURPOSE = "slip"
_COOKIE_KEYS = {FORM_PURPOSE: "form_stash", SLIP_PURPOSE: "slip_stash"}
NEVER_KEPT = ("csrf_token", "password")  # a secret is typed again, never stored


def _owner(case_id: uuid.UUID | None) -> stash.Owner:
    return stash.Owner(current_user.id, current_user.web_session.id, case_id)


def keep(purpose: str, case_id: uuid.UUID | None, payload: dict[str, Any]) -> None:
    """Seal `payload` for the next page of this session."""
    stash_id = stash.put(db.session, get_keyring(), _owner(case_id), purpose, payload)
    session[_COOKIE_KEYS[purpose]] = str(stash_id)


def take(purpose: str, case_id: uuid.UUID | None) -> dict[str, Any] | None:
    """What `keep` sealed for this page, once; None on any other page or a second read."""
    key = _COOKIE_KEYS[purpose]
    raw = session.get(key)
    if not raw:
        return None
    try:
        stash_id = uuid.UUID(str(raw))
    except ValueError:
        session.pop(key, None)
        return None
    found = stash.take(db.session, get_keyring(), stash_id, _owner(case_id), purpose)
    if found is not None or case_id is None:
        session.pop(key, None)
    return found


def typed_values(form: FlaskForm) -> list[list[str]]:
    """What the browser sent for this form's fields, as (name, value) pairs."""
    names = {f.name for f in form if f.short_name not in NEVER_KEPT}
    return [[name, value] for name, value in request.form.items(multi=True) if name in names]


def field_errors(form: FlaskForm) -> dict[str, list[str]]:
    return {f.name: [str(m) for m in f.errors] for f in form if f.errors}


def refused(
    case_id: str,
    form_name: str,
    form: FlaskForm,
    problems: list[str],
    anchor: str,
    endpoint: str = "cases.case_page",
    **shown: Any,
) -> Response:
    """Seal the refused form and send the browser to the GET page, at the form's anchor.
    Only a case the caller may see gets a stash: for any other the loader answers 404."""
    case_uuid = parse_uuid(case_id)
    access.case_for(
        db.session, web_caller(), case_uuid, need=policy.READ, closed_ok=True, purged_ok=True
    )
    payload = {
        "form": form_name,
        "anchor": anchor,
        "values": typed_values(form),
        "errors": field_errors(form),
        "labels": {f.name: str(f.label.text) for f in form if f.errors},
        "problems": [str(p) for p in problems],
        "shown": {k: str(v) for k, v in shown.items()},
    }
    keep(FORM_PURPOSE, case_uuid, payload)
    where = {"case_id": case_id} if endpoint == "cases.case_page" else dict(request.view_args or {})
    return redirect(url_for(endpoint, **where, _anchor=anchor or None), code=303)


def rebuild(make: Callable[[MultiDict[str, str]], Any], payload: dict[str, Any]) -> Any:
    """The form made again from what was typed, each field with its errors."""
    form = make(MultiDict([(name, value) for name, value in payload["values"]]))
    errors = payload.get("errors") or {}
    for field in form:
        if field.name in errors:
            field.errors = list(errors[field.name])
    return form


def restored_forms(case_id: str, makers: Mapping[str, Any]) -> dict[str, Any]:
    """For a page with several forms: {form name: the refused form, "problems": [...],
    "failed_section": its anchor, and what else the page needs to draw it in place}.
    A form the page draws by hand (one row's small form) has its errors said in
    `problems`, each with its field's label. Empty when nothing was refused."""
    payload = take(FORM_PURPOSE, parse_uuid(case_id))
    if payload is None:
        return {}
    problems = list(payload.get("problems") or [])
    given: dict[str, Any] = {}
    make = makers.get(payload.get("form") or "")
    if make is not None:
        given[payload["form"]] = rebuild(make, payload)
    else:
        labels = payload.get("labels") or {}
        for name, messages in (payload.get("errors") or {}).items():
            problems += [f"{labels.get(name, name)}: {message}" for message in messages]
    return {
        **given,
        "problems": problems,
        "failed_section": payload.get("anchor") or "",
        **(payload.get("shown") or {}),
    }


def slip_kept(case_id: uuid.UUID, payload: dict[str, Any]) -> None:
    keep(SLIP_PURPOSE, case_id, payload)


def slip_taken(case_id: uuid.UUID) -> dict[str, Any] | None:
    return take(SLIP_PURPOSE, case_id)
