"""The referral inbox and outbox, the moves, and the printable referral sheet."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.auth.policy import may_work_on_cases
from app.core.errors import Conflict, InvalidInput
from app.core.ids import parse_uuid
from app.core.time import local_today
from app.core.transaction import mark_failed
from app.crypto.service import get_keyring
from app.extensions import db
from app.referrals import service as referrals
from app.web.formtools import web_caller

bp = Blueprint("referrals", __name__)


@bp.get("/referrals")
def inbox() -> str:
    if not may_work_on_cases(current_user):
        abort(403)
    box = "outgoing" if request.args.get("box") == "outgoing" else "incoming"
    status = request.args.get("status") or None
    if status not in (None, *referrals.LIVE, "completed", "declined", "cancelled"):
        status = None
    caller = web_caller()
    rows = referrals.list_referrals(db.session, caller, box, status)
    counts = referrals.inbox_counts(db.session, caller)
    return render_template(
        "referrals/inbox.html",
        rows=rows,
        counts=counts,
        box=box,
        status=status,
        today=local_today(),
        moves=referrals.MOVES,
        side_of=lambda referral: referrals.side_of(caller.institution_id, referral),
    )


@bp.post("/referrals/<referral_id>/transition")
def transition(referral_id: str) -> Response:
    move = referrals.Move(
        request.form.get("action", ""),
        request.form.get("note"),
        int(request.form["version"]) if request.form.get("version", "").isdigit() else None,
    )
    try:
        referrals.move_referral(
            db.session, get_keyring(), web_caller(), parse_uuid(referral_id), move
        )
    except (InvalidInput, Conflict) as error:
        mark_failed()
        messages = [m for texts in error.fields.values() for m in texts] or [move_problem(error)]
        for message in messages:
            flash(message, "error")
        return redirect(request.referrer or url_for("referrals.inbox"))
    flash(_("Remisión actualizada."), "info")
    return redirect(url_for("referrals.inbox", box=request.form.get("box", "incoming")))


def move_problem(error: Exception) -> str:
    return _("La remisión ya no está en un estado que permita eso; recargue la página.")


@bp.get("/referrals/<referral_id>/sheet")
def sheet(referral_id: str) -> str:
    """The printable referral sheet the survivor can carry: no narrative, no address."""
    printed = referrals.referral_sheet(
        db.session, get_keyring(), web_caller(), parse_uuid(referral_id)
    )
    return render_template(
        "referrals/sheet.html",
        referral=printed.referral,
        ref=printed.row,
        number=printed.number,
        name=printed.name,
    )
