"""The referral inbox and outbox, a referral's page with its moves, and the printable
hoja de referencia y contrarreferencia.

The inbox's filters are codes in the query string (bookmarkable, printable); every move
is a POST that ends on a GET (the inbox row, or the referral's page). A refused
counter-referral or decline is shown again on the referral's page with what was typed.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from app.auth.policy import may_work_on_cases
from app.core.errors import Conflict, InvalidInput
from app.core.ids import parse_uuid
from app.core.transaction import discard_changes
from app.crypto.service import get_keyring
from app.extensions import db
from app.referrals import listing, moves
from app.referrals import service as referrals
from app.referrals import sheet as sheets
from app.web.formtools import web_caller

bp = Blueprint("referrals", __name__)

FILTERS = ("box", "status", "urgency", "overdue", "page")
# The text fields of the moves that take one, as the referral's page names them.
MOVE_FIELDS = ("note", "done", "next_step", "contact")


def inbox_query(args: MultiDict[str, str]) -> listing.InboxQuery:
    """The filters of the query string; a value that is none of the choices is no filter."""
    page = args.get("page", "")
    return listing.InboxQuery(
        box="outgoing" if args.get("box") == "outgoing" else "incoming",
        status=args.get("status") if args.get("status") in listing.STATUSES else None,
        urgency=args.get("urgency") if args.get("urgency") in listing.URGENCIES else None,
        overdue=args.get("overdue") == "1",
        page=int(page) if page.isdigit() and 0 < int(page) <= 10_000 else 1,
    )


def query_args(query: listing.InboxQuery) -> dict[str, Any]:
    """The query string of `query`, defaults left out."""
    args = {
        "box": query.box if query.box != "incoming" else None,
        "status": query.status,
        "urgency": query.urgency,
        "overdue": "1" if query.overdue else None,
        "page": query.page if query.page > 1 else None,
    }
    return {name: value for name, value in args.items() if value is not None}


def inbox_link(query: listing.InboxQuery, **changes: Any) -> str:
    """The inbox with these filters changed (None drops one); back to page 1."""
    args = {**query_args(query), "page": None, **changes}
    return url_for("referrals.inbox", **{k: v for k, v in args.items() if v is not None})


@bp.get("/referrals")
def inbox() -> str:
    if not may_work_on_cases(current_user):
        abort(403)
    found = listing.inbox(db.session, get_keyring(), web_caller(), inbox_query(request.args))
    return render_template(
        "referrals/inbox.html",
        found=found,
        query=found.query,
        args=query_args(found.query),
        link=inbox_link,
        statuses=listing.STATUSES,
        urgencies=listing.URGENCIES,
    )


@bp.get("/referrals/<referral_id>")
def referral_page(referral_id: str) -> tuple[str, int]:
    return render_referral(referral_id)


def render_referral(
    referral_id: str,
    status: int = 200,
    typed: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
) -> tuple[str, int]:
    """The referral as this side reads it (audited), with the forms of its moves."""
    record = referrals.read_referral(
        db.session, get_keyring(), web_caller(), parse_uuid(referral_id), text_only=True
    )
    return render_template(
        "referrals/referral.html",
        referral=record,
        back=back_args(request.values),
        typed=typed or {},
        errors=errors or {},
        moves=moves.MOVES,
    ), status


def back_args(values: MultiDict[str, str]) -> dict[str, Any]:
    """The inbox filters a form came from, to go back to them."""
    return query_args(inbox_query(values))


@bp.post("/referrals/<referral_id>/transition")
def transition(referral_id: str) -> Response | tuple[str, int]:
    form = request.form
    move = moves.Move(
        form.get("action", ""),
        form.get("note"),
        int(form["version"]) if form.get("version", "").isdigit() else None,
        done=form.get("done"),
        next_step=form.get("next_step"),
        contact=form.get("contact"),
    )
    try:
        moves.move_referral(db.session, get_keyring(), web_caller(), parse_uuid(referral_id), move)
    except InvalidInput as error:
        discard_changes()  # the page shown again is read, and audited, in this request
        typed = {name: form.get(name, "") for name in MOVE_FIELDS}
        return render_referral(referral_id, 422, {**typed, "action": move.action}, error.fields)
    except Conflict:
        discard_changes()
        flash(move_problem(), "error")
        return redirect(url_for("referrals.referral_page", referral_id=referral_id))
    flash(_("Remisión actualizada."), "info")
    back = back_args(form)
    return redirect(url_for("referrals.inbox", **back, _anchor=f"r-{referral_id}"))


def move_problem() -> str:
    return _("La remisión ya no está en un estado que permita eso; recargue la página.")


@bp.get("/referrals/<referral_id>/sheet")
def sheet(referral_id: str) -> str:
    """The hoja de referencia y contrarreferencia, to print: never her account."""
    printed = sheets.referral_sheet(
        db.session, get_keyring(), web_caller(), parse_uuid(referral_id)
    )
    return render_template("referrals/sheet.html", sheet=printed, referral=printed.referral)
