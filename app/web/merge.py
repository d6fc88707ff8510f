"""Pages for two records of one woman: her possible duplicates (from the case page), the
request to merge them, and the supervisors' approval, rejection and revert (on /audit)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from app.auth.policy import may_read_audit
from app.cases import duplicates, merge
from app.cases.name_search import present_candidate
from app.cases.schemas import MergeIn
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.ids import parse_uuid
from app.core.transaction import mark_failed
from app.crypto.service import get_keyring
from app.extensions import db
from app.referrals import merge as merging
from app.web.audit import bp as audit_pages
from app.web.case_forms import MergeForm
from app.web.cases import bp, require_case_worker
from app.web.formtools import flatten, web_caller


@bp.get("/cases/<case_id>/duplicates", endpoint="duplicates")
def duplicates_page(case_id: str) -> str:
    require_case_worker()
    found = duplicates.case_duplicates(db.session, get_keyring(), web_caller(), parse_uuid(case_id))
    return render_template(
        "cases/duplicates.html",
        case_id=case_id,
        candidates=[present_candidate(candidate) for candidate in found],
        form=MergeForm(formdata=None),
    )


@bp.post("/cases/<case_id>/merge", endpoint="request_merge")
def request_merge(case_id: str) -> Response:
    """Keep this record, absorb the chosen one: a supervisor decides."""
    require_case_worker()
    form = MergeForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        data = MergeIn().load({"absorb": form.absorb.data, "reason": form.reason.data})
        merge.request_merge(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            data["absorb"],
            data["reason"],
        )
    except (ValidationError, InvalidInput, Conflict) as error:
        mark_failed()
        flash(_refusal(error), "error")
        return redirect(url_for("cases.duplicates", case_id=case_id))
    flash(_("Se pidió la unión. Una supervisora debe aprobarla."), "info")
    return redirect(url_for("cases.case_page", case_id=case_id))


def _refusal(error: Exception) -> str:
    if isinstance(error, ValidationError) and isinstance(error.messages, dict):
        return " ".join(text for texts in flatten(error.messages).values() for text in texts)
    if isinstance(error, InvalidInput) and error.fields:
        return " ".join(text for texts in flatten(error.fields).values() for text in texts)
    return getattr(error, "message", str(error))


def _require_supervisor() -> None:
    if not may_read_audit(current_user):
        abort(403)


@audit_pages.post("/audit/merges/<merge_id>/review", endpoint="review_merge")
def review_merge(merge_id: str) -> Response:
    _require_supervisor()
    approve = request.form.get("approve") == "yes"
    try:
        merging.review_merge(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(merge_id),
            approve,
            current_app.config["RUTA_ATTACHMENTS_DIR"],
        )
    except (Conflict, Forbidden, NotFound) as error:
        mark_failed()
        flash(
            _("Otra supervisora debe decidir sobre esta unión.")
            if isinstance(error, Forbidden)
            else error.message,
            "error",
        )
        return redirect(url_for("audit_pages.audit", _anchor="uniones-expedientes"))
    flash(_("Unión aprobada.") if approve else _("Unión rechazada."), "info")
    return redirect(url_for("audit_pages.audit", _anchor="uniones-expedientes"))


@audit_pages.post("/audit/merges/<merge_id>/revert", endpoint="revert_merge")
def revert_merge(merge_id: str) -> Response:
    _require_supervisor()
    try:
        merging.revert_merge(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(merge_id),
            current_app.config["RUTA_ATTACHMENTS_DIR"],
        )
    except (Conflict, NotFound) as error:
        mark_failed()
        flash(error.message, "error")
        return redirect(url_for("audit_pages.audit", _anchor="uniones-expedientes"))
    flash(_("Unión deshecha: cada expediente volvió a ser como era."), "info")
    return redirect(url_for("audit_pages.audit", _anchor="uniones-expedientes"))
