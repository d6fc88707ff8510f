"""The pages of the transfers of the lead institution: the lead's form on the case
("Traspasar la coordinación") and the transfers' section of the referrals inbox, where
the target accepts or declines and the lead cancels. Every POST ends on a GET; a refused
form is shown again, with what was typed and why, in the same request.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response

from app.core.errors import Conflict, InvalidInput
from app.core.ids import parse_uuid
from app.core.transaction import discard_changes
from app.crypto.service import get_keyring
from app.extensions import db
from app.referrals import policy, transfer_present, transfers
from app.web.formtools import web_caller

bp = Blueprint("transfers", __name__)

REASONS = {
    "survivor_moved": _l("Ella se mudó"),
    "better_placed": _l("Otra institución puede atenderla mejor"),
    "institution_request": _l("A pedido de la institución"),
    "other": _l("Otro motivo"),
}
STATUSES = {
    "requested": _l("Pendiente"),
    "accepted": _l("Aceptado"),
    "declined": _l("Rechazado"),
    "cancelled": _l("Cancelado"),
}


@bp.app_context_processor
def transfer_helpers() -> dict[str, Any]:
    return {
        "may_transfer": may_transfer,
        "transfer_reason_label": lambda code: REASONS.get(code, code),
        "transfer_status_label": lambda code: STATUSES.get(code, code),
    }


def may_transfer(record: dict[str, Any], view: str) -> bool:
    """The case page offers the form to the lead with the whole record (the service
    checks the same rule)."""
    lead = record.get("lead_institution") or {}
    is_lead = lead.get("id") == current_user.institution_id
    return record.get("status") != "closed" and policy.may_request_transfer(view, is_lead)


@bp.get("/cases/<case_id>/transfer")
def transfer_form(case_id: str) -> tuple[str, int]:
    return render_form(case_id)


def render_form(
    case_id: str,
    status: int = 200,
    typed: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
) -> tuple[str, int]:
    choices = transfer_present.transfer_choices(db.session, web_caller(), parse_uuid(case_id))
    return render_template(
        "cases/transfer.html",
        choices=choices,
        reasons=REASONS,
        typed=typed or {},
        errors=errors or {},
    ), status


@bp.post("/cases/<case_id>/transfer")
def request_transfer(case_id: str) -> Response | tuple[str, int]:
    typed = {name: request.form.get(name, "") for name in ("to_institution", "reason", "note")}
    data: dict[str, Any] = {
        "to_institution": int(typed["to_institution"]) if typed["to_institution"].isdigit() else 0,
        "reason": typed["reason"],
        "note": typed["note"],
    }
    try:
        if data["reason"] not in policy.TRANSFER_REASONS:
            raise InvalidInput("reason", {"reason": [_("Elija el motivo del traspaso.")]})
        transfers.request_transfer(
            db.session, get_keyring(), web_caller(), parse_uuid(case_id), data
        )
    except InvalidInput as error:
        discard_changes()
        return render_form(case_id, 422, typed, error.fields)
    except Conflict as error:
        discard_changes()
        return render_form(case_id, 409, typed, {"to_institution": [error.message]})
    flash(_("Se pidió el traspaso de la coordinación: la otra institución debe aceptarlo."), "info")
    return redirect(url_for("cases.case_page", case_id=case_id, _anchor="coordinacion"), code=303)


@bp.get("/referrals/transfers")
def boxes() -> tuple[str, int]:
    return render_boxes()


def render_boxes(
    status: int = 200, failed: str | None = None, errors: dict[str, list[str]] | None = None
) -> tuple[str, int]:
    found = transfer_present.transfer_boxes(db.session, web_caller())
    return render_template(
        "referrals/transfers.html",
        incoming=found["incoming"],
        outgoing=found["outgoing"],
        failed=failed,
        errors=errors or {},
        typed_reason=request.form.get("reason", "") if failed else "",
    ), status


@bp.post("/transfers/<transfer_id>/transition")
def transition(transfer_id: str) -> Response | tuple[str, int]:
    form = request.form
    version = form.get("version", "")
    move = transfers.TransferMove(
        form.get("action", ""), form.get("reason"), int(version) if version.isdigit() else None
    )
    try:
        transfers.move_transfer(
            db.session, get_keyring(), web_caller(), parse_uuid(transfer_id), move
        )
    except InvalidInput as error:
        discard_changes()
        return render_boxes(422, transfer_id, error.fields)
    except Conflict:
        discard_changes()
        flash(
            _("El traspaso ya no está en un estado que permita eso; recargue la página."), "error"
        )
        return redirect(url_for("transfers.boxes"))
    flash(_("Traspaso actualizado."), "info")
    return redirect(url_for("transfers.boxes", _anchor=f"t-{transfer_id}"))
