"""The justice pathway's forms on the case page: each posts here, calls one service, and
comes back to the complaint section (post/redirect/get, app/web/stash.py)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from flask import Blueprint
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.cases import justice
from app.cases import justice_policy as rules
from app.cases.justice_schemas import (
    ComplaintMoveIn,
    FileNumbersIn,
    HearingIn,
    HearingNoticeIn,
    HearingOutcomeIn,
)
from app.core.ids import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db
from app.web.formtools import form_data, load, submit, web_caller
from app.web.justice_forms import (
    HEARING_KIND_LABELS,
    HEARING_OUTCOME_LABELS,
    MOVE_LABELS,
    STATUS_LABELS,
    ComplaintMoveForm,
    FileNumbersForm,
    HearingForm,
    HearingNoticeForm,
    HearingOutcomeForm,
)

bp = Blueprint("justice_forms", __name__)
SECTION = "denuncia"
FORMS: dict[str, Any] = {
    "justice_move_form": ComplaintMoveForm,
    "justice_numbers_form": FileNumbersForm,
    "hearing_form": HearingForm,
    "hearing_outcome_form": HearingOutcomeForm,
    "hearing_notice_form": HearingNoticeForm,
}


@bp.post("/cases/<case_id>/complaints/<complaint_id>/transition")
def move_complaint(case_id: str, complaint_id: str) -> Response:
    form = ComplaintMoveForm()
    return submit(
        case_id,
        "justice_move_form",
        form,
        lambda: justice.transition_complaint(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            parse_uuid(complaint_id),
            load(ComplaintMoveIn, form_data(form, "action", "moved_on", "version")),
        ),
        SECTION,
        _("Paso de la denuncia registrado."),
        justice_complaint=complaint_id,
    )


@bp.post("/cases/<case_id>/complaints/<complaint_id>/file-numbers")
def set_file_numbers(case_id: str, complaint_id: str) -> Response:
    form = FileNumbersForm()
    return submit(
        case_id,
        "justice_numbers_form",
        form,
        lambda: justice.set_file_numbers(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            parse_uuid(complaint_id),
            load(FileNumbersIn, form_data(form, "fgr_number", "court_number", "version")),
        ),
        SECTION,
        _("Número de expediente guardado."),
        justice_complaint=complaint_id,
    )


@bp.post("/cases/<case_id>/complaints/<complaint_id>/hearings")
def schedule_hearing(case_id: str, complaint_id: str) -> Response:
    form = HearingForm()
    return submit(
        case_id,
        "hearing_form",
        form,
        lambda: justice.schedule_hearing(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            parse_uuid(complaint_id),
            load(HearingIn, form_data(form, "starts_at", "court_id", "kind", "version")),
        ),
        SECTION,
        _("Audiencia programada."),
        justice_complaint=complaint_id,
    )


@bp.post("/cases/<case_id>/hearings/<hearing_id>")
def record_hearing_outcome(case_id: str, hearing_id: str) -> Response:
    form = HearingOutcomeForm()
    return submit(
        case_id,
        "hearing_outcome_form",
        form,
        lambda: justice.record_hearing_outcome(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            parse_uuid(hearing_id),
            load(HearingOutcomeIn, form_data(form, "outcome", "note", "version")),
        ),
        SECTION,
        _("Resultado de la audiencia registrado."),
        justice_hearing=hearing_id,
    )


@bp.post("/cases/<case_id>/hearing-notice")
def record_hearing_notice(case_id: str) -> Response:
    form = HearingNoticeForm()
    return submit(
        case_id,
        "hearing_notice_form",
        form,
        lambda: justice.record_hearing_notice(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            load(HearingNoticeIn, {"show_hearings_in_status": form.show_hearings_in_status.data}),
        ),
        SECTION,
        _("Su decisión sobre la consulta de estado quedó registrada."),
    )


# ---- what the case page needs to draw the pathway ---------------------------------------


def _offers(role: str, complaint: dict[str, Any]) -> dict[str, Any]:
    """What the complaint's forms offer this role, asked of the pathway's rules."""
    status = complaint["status"]
    return {
        "moves": rules.moves_for(role, status),
        "numbers": [f for f in rules.NUMBER_ROLES if rules.may_set_number(f, role)],
        "schedule": rules.may_schedule(role) and rules.schedulable(status),
        "outcome": rules.may_schedule(role),
    }


def justice_context(record: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The pathway's forms: the refused one as it was typed (for its complaint or
    hearing), fresh ones elsewhere; and the labels of its codes."""
    if not record.get("complaints"):  # the pathway and its forms follow a complaint
        return {"justice": {"offers": {}, "forms": {}}}
    role = web_caller().role
    forms = {name: given.get(name) or cls(formdata=None) for name, cls in FORMS.items()}
    notice = record.get("hearing_notice")
    if notice and not given.get("hearing_notice_form"):
        forms["hearing_notice_form"].show_hearings_in_status.data = notice[
            "show_hearings_in_status"
        ]
    return {
        "justice": {
            "offers": {c["id"]: _offers(role, c) for c in record.get("complaints") or []},
            "failed_complaint": given.get("justice_complaint"),
            "failed_hearing": given.get("justice_hearing"),
            "forms": forms,
            "courts": justice.court_choices(db.session),
            "moves": MOVE_LABELS,
            "statuses": STATUS_LABELS,
            "kinds": HEARING_KIND_LABELS,
            "outcomes": HEARING_OUTCOME_LABELS,
        }
    }


def justice_form_makers() -> dict[str, Callable[[Any], Any]]:
    return {name: partial(cls, prefix="") for name, cls in FORMS.items()}
