"""Her children and dependants on the case page, and the referral form pre-filled by
the 72-hour window's suggestion (an immediate medical referral)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.cases import dependants
from app.cases.dependant_schemas import DependantIn
from app.core.ids import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db
from app.referrals.service import URGENCY_DAYS
from app.web.case_actions import bp
from app.web.case_forms import ReferralForm
from app.web.cases import render_case
from app.web.dependant_forms import DependantForm
from app.web.formtools import blank_to_none, load, submit, web_caller

SECTION = "menores"  # the section's anchor on the case page
YES_NO = {"yes": True, "no": False}


def dependant_payload(form: DependantForm) -> dict[str, Any]:
    data = {
        name: blank_to_none(getattr(form, name).data)
        for name in ("given_names", "family_names", "age", "birth_year", "relationship")
    }
    data = {name: value for name, value in data.items() if value is not None}
    data["lives_with_her"] = YES_NO.get(form.lives_with_her.data or "")
    data["witnessed_violence"] = form.witnessed_violence.data or "unknown"
    data["suffered_violence"] = form.suffered_violence.data or "unknown"
    return data


@bp.post("/cases/<case_id>/dependants")
def add_dependant(case_id: str) -> Response:
    form = DependantForm()
    return submit(
        case_id,
        "dependant_form",
        form,
        lambda: dependants.add_dependant(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            load(DependantIn, dependant_payload(form)),
        ),
        SECTION,
        _("Hijo, hija o persona a cargo registrada."),
    )


@bp.get("/cases/<case_id>/refer")
def prefilled_referral(case_id: str) -> tuple[str, int]:
    """The case page with the referral form open and filled from the link's service and
    urgency (codes only: nothing of her in the URL)."""
    urgency = request.args.get("urgency", "")
    form = ReferralForm(
        formdata=None,
        service=request.args.get("service", "")[:40] or None,
        urgency=urgency if urgency in URGENCY_DAYS else "routine",
    )
    return render_case(case_id, referral_form=form)
