"""The referral inbox and outbox, the moves, and the printable referral sheet."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.auth.policy import may_work_on_cases
from app.cases.models import Case
from app.cases.record_parts import referral_record
from app.common import Conflict, InvalidInput, local_today, parse_uuid
from app.crypto.service import cipher_for, get_keyring
from app.extensions import db
from app.referrals import service as referrals
from app.webforms import audit_web

bp = Blueprint("referrals", __name__)


@bp.get("/referrals")
def inbox() -> str:
    if not may_work_on_cases(current_user):
        abort(403)
    box = "outgoing" if request.args.get("box") == "outgoing" else "incoming"
    status = request.args.get("status") or None
    if status not in (None, *referrals.LIVE, "completed", "declined", "cancelled"):
        status = None
    rows = referrals.list_referrals(db.session, current_user, box, status)
    counts = referrals.inbox_counts(db.session, current_user)
    return render_template(
        "referrals/inbox.html",
        rows=rows,
        counts=counts,
        box=box,
        status=status,
        today=local_today(),
        moves=referrals.MOVES,
        side_of=referrals.side_of,
    )


@bp.post("/referrals/<referral_id>/transition")
def transition(referral_id: str) -> Response:
    move = referrals.Move(
        request.form.get("action", ""),
        request.form.get("note"),
        int(request.form["version"]) if request.form.get("version", "").isdigit() else None,
    )
    try:
        referral = referrals.move_referral(
            db.session, get_keyring(), current_user, parse_uuid(referral_id), move
        )
    except (InvalidInput, Conflict) as error:
        db.session.rollback()
        messages = [m for texts in error.fields.values() for m in texts] or [move_problem(error)]
        for message in messages:
            flash(message, "error")
        return redirect(request.referrer or url_for("referrals.inbox"))
    audit_web(
        "referral_transition",
        object_type="referral",
        object_id=referral.id,
        case_id=referral.case_id,
        detail=f"{move.action}->{referral.status}",
    )
    db.session.commit()
    flash(_("Remisión actualizada."), "info")
    return redirect(url_for("referrals.inbox", box=request.form.get("box", "incoming")))


def move_problem(error: Exception) -> str:
    return _("La remisión ya no está en un estado que permita eso; recargue la página.")


@bp.get("/referrals/<referral_id>/sheet")
def sheet(referral_id: str) -> str:
    """The printable referral sheet the survivor can carry: no narrative, no address."""
    referral = referrals.get_referral_for(db.session, current_user, parse_uuid(referral_id))
    from sqlalchemy.orm import joinedload

    case = db.session.execute(
        db.select(Case)
        .options(joinedload(Case.data_key), joinedload(Case.survivor))
        .where(Case.id == referral.case_id)
    ).scalar_one()
    cipher = cipher_for(get_keyring(), case.data_key)
    names = [
        cipher.open_text("survivors", case.survivor.id, f, getattr(case.survivor, f"{f}_enc"))
        for f in ("given_names", "family_names")
    ]
    audit_web(
        "case_view",
        object_type="referral_sheet",
        object_id=referral.id,
        case_id=case.id,
        detail="referral_sheet",
    )
    db.session.commit()
    return render_template(
        "referrals/sheet.html",
        referral=referral_record(cipher, referral),
        ref=referral,
        number=case.number,
        name=" ".join(n or "" for n in names),
    )
