"""Pages for retention: a supervisor's legal hold on the case page, the erasure request a
party records there, and the supervisors' page of erasures to decide, held records and
purged ones (/audit/retention). docs/retention.md."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.auth.policy import may_read_audit
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.ids import parse_uuid
from app.core.transaction import mark_failed
from app.crypto.service import get_keyring
from app.extensions import db
from app.retention import service as retention
from app.retention.policy import LEGAL_BASES
from app.supervision import overview
from app.supervision.paging import page_number
from app.web.audit import bp as audit_pages
from app.web.audit import page_href
from app.web.case_actions import bp
from app.web.case_forms import ErasureForm, LegalHoldForm
from app.web.formtools import web_caller

HOLD_ANCHOR = "retencion"


def _refused(error: Conflict | InvalidInput) -> str:
    if isinstance(error, InvalidInput) and error.fields:
        return " ".join(text for texts in error.fields.values() for text in texts)
    return error.message


@bp.post("/cases/<case_id>/legal-hold", endpoint="legal_hold")
def legal_hold(case_id: str) -> Response:
    form = LegalHoldForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        retention.set_legal_hold(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            request.form.get("hold") == "yes",
            form.reason.data,
            current_app.config["RUTA_DEPARTMENT"],
        )
    except (Conflict, InvalidInput) as error:
        mark_failed()
        flash(_refused(error), "error")
    else:
        flash(_("Retención legal actualizada. Quedó registrado."), "info")
    return redirect(url_for("cases.case_page", case_id=case_id, _anchor=HOLD_ANCHOR))


@bp.post("/cases/<case_id>/erasure", endpoint="request_erasure")
def request_erasure(case_id: str) -> Response:
    form = ErasureForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        retention.request_erasure(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            form.legal_basis.data or "",
            form.reason.data,
        )
    except (Conflict, InvalidInput) as error:
        mark_failed()
        flash(_refused(error), "error")
    else:
        flash(_("Se pidió la supresión. Una supervisora debe aprobarla."), "info")
    return redirect(url_for("cases.case_page", case_id=case_id, _anchor=HOLD_ANCHOR))


def _require_supervisor() -> None:
    if not may_read_audit(current_user):
        abort(403)


@audit_pages.get("/audit/retention", endpoint="retention")
def retention_page() -> str:
    _require_supervisor()
    pages = {name: page_number(request.args.get(f"{name}_page")) for name in ("held", "purged")}
    shown = overview.retention_overview(db.session, web_caller(), pages)
    return render_template(
        "audit/retention.html", legal_bases=LEGAL_BASES, page_href=page_href, **shown
    )


@audit_pages.post("/audit/erasures/<erasure_id>/review", endpoint="review_erasure")
def review_erasure(erasure_id: str) -> Response:
    _require_supervisor()
    approve = request.form.get("approve") == "yes"
    try:
        retention.review_erasure(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(erasure_id),
            approve,
            current_app.config["RUTA_DEPARTMENT"],
        )
    except (Conflict, NotFound) as error:
        mark_failed()
        flash(error.message, "error")
    else:
        flash(
            _("Supresión aprobada: la próxima depuración la llevará a cabo.")
            if approve
            else _("Supresión rechazada."),
            "info",
        )
    return redirect(url_for("audit_pages.retention"))
