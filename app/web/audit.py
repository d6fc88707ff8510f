"""The supervisors' page: access reports, the audit log, the break-glass queue, the
joins to review, and the accounts and account recoveries waiting for approval."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.auth import accounts, recovery
from app.auth.policy import may_read_audit
from app.cases import merge
from app.cases import service as cases
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.ids import parse_uuid
from app.core.time import utcnow
from app.core.transaction import mark_failed
from app.crypto.service import get_keyring
from app.extensions import db
from app.supervision import breakglass, queries
from app.web.admin import ROLE_LABELS
from app.web.formtools import web_caller

bp = Blueprint("audit_pages", __name__)


def _since() -> datetime:
    days = request.args.get("days", "30")
    return utcnow() - timedelta(days=int(days) if days.isdigit() and 0 < int(days) <= 366 else 30)


@bp.get("/audit")
def audit() -> str:
    if not may_read_audit(current_user):
        abort(403)
    since = _since()
    ring = get_keyring()
    queue = breakglass.pending_reviews(db.session, current_user)
    uses = queries.break_glass_uses(db.session, current_user, since)
    waiting = accounts.pending_accounts(db.session, web_caller())
    recoveries = recovery.pending_recoveries(db.session, web_caller())
    events = queries.list_events(
        db.session,
        current_user,
        case_id=parse_uuid(request.args.get("case_id", "")),
        username=request.args.get("username") or None,
        since=since,
        action=request.args.get("action") or None,
        limit=200,
    )
    return render_template(
        "audit/audit.html",
        events=events,
        since=since,
        args=request.args,
        per_day=queries.accesses_per_user_per_day(db.session, current_user, since),
        after_hours=queries.reads_outside_office_hours(db.session, current_user, since),
        non_party=queries.reads_by_non_parties(db.session, current_user, since),
        failed=queries.failed_logins(db.session, current_user, since),
        queue=queue,
        uses=uses,
        reasons=breakglass.open_reasons(db.session, ring, current_user, queue),
        waiting=waiting,
        role_labels=ROLE_LABELS,
        recoveries=recoveries,
        names=accounts.usernames(
            db.session,
            {u.requested_by_user_id for u in waiting}
            | {r.requested_by_user_id for r in recoveries},
        ),
        joins=cases.pending_joins(db.session, web_caller()),
        merges=merge.merge_list(db.session, web_caller()),
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
