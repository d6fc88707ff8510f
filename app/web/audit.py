"""The supervisors' page: access reports, the audit log, the break-glass queue, the
joins to review, and the accounts and account recoveries waiting for approval."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from app.auth import accounts, recovery
from app.auth.policy import may_read_audit
from app.cases import service as cases
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.time import LOCAL_TZ
from app.core.transaction import mark_failed
from app.crypto.service import get_keyring
from app.extensions import db
from app.supervision import breakglass, overview
from app.supervision.paging import page_number
from app.web.admin import ROLE_LABELS
from app.web.formtools import web_caller

bp = Blueprint("audit_pages", __name__)


@bp.app_template_filter("localtime")
def local_time(value: datetime | None) -> str:
    """HH:MM on El Salvador's clock (the day is in another column)."""
    return value.astimezone(LOCAL_TZ).strftime("%H:%M") if value else ""


def _days(raw: str) -> int:
    return int(raw) if raw.isdigit() and 0 < int(raw) <= overview.MAX_DAYS else 30


def _day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def audit_query(args: MultiDict[str, str]) -> overview.AuditQuery:
    """The filters and page numbers of the query string; anything odd is left out."""
    return overview.AuditQuery(
        days=_days(args.get("days", "30")),
        username=args.get("username", "").strip() or None,
        action=args.get("action", "").strip() or None,
        case_number=overview.normalised_number(args.get("case")),
        day=_day(args.get("day", "")),
        out_of_hours=args.get("out") == "1",
        pages={name: page_number(args.get(f"{name}_page")) for name in overview.LISTS},
    )


def page_href(list_name: str, number: int, anchor: str) -> str:
    """The same page with the same filters, another page of one list."""
    params: dict[str, Any] = {**request.args.to_dict(), f"{list_name}_page": str(number)}
    return url_for(request.endpoint or "audit_pages.audit", _anchor=anchor, **params)


CASE_ERRORS = {
    "malformed": _l(
        "El número de expediente no es válido. Escríbalo como aparece en el expediente, "
        "por ejemplo SON-2026-000123."
    ),
    "unknown": _l("No hay ningún expediente con el número %(number)s. Revise el número."),
}


@bp.get("/audit")
def audit() -> str:
    if not may_read_audit(current_user):
        abort(403)
    query = audit_query(request.args)
    shown = overview.audit_overview(db.session, get_keyring(), web_caller(), query)
    return render_template(
        "audit/audit.html",
        args=request.args,
        query=query,
        case_errors=CASE_ERRORS,
        page_href=page_href,
        role_labels=ROLE_LABELS,
        **shown,
    )


@bp.post("/audit/break-glass/<int:grant_id>/review")
def review(grant_id: int) -> Response:
    if not may_read_audit(current_user):
        abort(403)
    justified = request.form.get("justified") == "yes"
    try:
        breakglass.review_break_glass(
            db.session, get_keyring(), web_caller(), grant_id, justified, request.form.get("note")
        )
    except (Forbidden, Conflict) as error:
        mark_failed()
        flash(
            _("No puede revisar su propio acceso de emergencia.")
            if isinstance(error, Forbidden)
            else _("Este acceso ya fue revisado."),
            "error",
        )
        return redirect(url_for("audit_pages.audit", _anchor="revision"))
    flash(_("Revisión registrada."), "info")
    return redirect(url_for("audit_pages.audit", _anchor="revision"))


@bp.post("/audit/accounts/<int:user_id>/approve")
def approve_account(user_id: int) -> Response:
    if not may_read_audit(current_user):
        abort(403)
    approve = request.form.get("approve") == "yes"
    try:
        accounts.approve_account(
            db.session, get_keyring().audit_key, web_caller(), user_id, approve
        )
    except (Forbidden, Conflict, NotFound) as error:
        mark_failed()
        flash(error.message, "error")
        return redirect(url_for("audit_pages.audit", _anchor="cuentas"))
    flash(_("Cuenta aprobada.") if approve else _("Cuenta rechazada y desactivada."), "info")
    return redirect(url_for("audit_pages.audit", _anchor="cuentas"))


@bp.post("/audit/recoveries/<int:recovery_id>/decide")
def decide_recovery(recovery_id: int) -> Response:
    if not may_read_audit(current_user):
        abort(403)
    approve = request.form.get("approve") == "yes"
    try:
        recovery.decide_recovery(
            db.session, get_keyring().audit_key, web_caller(), recovery_id, approve
        )
    except (Forbidden, Conflict, NotFound) as error:
        mark_failed()
        flash(error.message, "error")
        return redirect(url_for("audit_pages.audit", _anchor="cuentas"))
    flash(
        _(
            "Recuperación aprobada: sus sesiones se cerraron y administración "
            "le entregará una contraseña temporal."
        )
        if approve
        else _("Recuperación rechazada."),
        "info",
    )
    return redirect(url_for("audit_pages.audit", _anchor="cuentas"))


@bp.post("/audit/joins/<int:party_id>/review")
def review_join(party_id: int) -> Response:
    if not may_read_audit(current_user):
        abort(403)
    justified = request.form.get("justified") == "yes"
    try:
        cases.review_join(db.session, get_keyring(), web_caller(), party_id, justified)
    except (Conflict, NotFound):
        mark_failed()
        flash(_("Esta unión ya fue revisada."), "error")
        return redirect(url_for("audit_pages.audit", _anchor="uniones"))
    flash(_("Revisión registrada."), "info")
    return redirect(url_for("audit_pages.audit", _anchor="uniones"))
