"""Case pages: intake, the case page and the incident form."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.auth.policy import may_work_on_cases
from app.cases import access, contact_data, duplicates, policy
from app.cases import service as cases
from app.cases.corrections import SURVIVOR_FIELDS
from app.cases.name_search import present_candidate
from app.cases.schemas import DuplicatesIn, IncidentIn, IntakeIn
from app.core.ids import parse_uuid
from app.crypto.service import get_keyring
from app.directory import service as directory
from app.extensions import db
from app.referrals import service as referrals
from app.web.case_forms import IncidentForm, IntakeForm
from app.web.formtools import attempt, blank_to_none, load, web_caller
from app.web.stash import refused, restored_forms, slip_kept, slip_taken

bp = Blueprint("cases", __name__)

INTAKE_FIELDS = {
    "survivor": SURVIVOR_FIELDS,
    "incident": (
        "occurred_on",
        "place_type",
        "violence_types",
        "penetration",
        "perpetrator_relationship",
        "perpetrator_details",
        "weapon",
        "children_present",
        "narrative",
        "confirm_new",
        "strangulation",
        "modality",
    ),
    "consent": ("share_with_network", "statistics", "police"),
}
FIELD_NAMES = {
    "incident.municipality": "incident_municipality",
    **{f"{group}.{name}": name for group, names in INTAKE_FIELDS.items() for name in names},
    **{f"survivor.contact_protocol.{name}": name for name in contact_data.PROTOCOL_FIELDS},
    **{f"survivor.access_needs.{name}": name for name in contact_data.NEEDS_FIELDS},
}


def municipality_choices() -> list[tuple[str, str]]:
    return [("", "—"), *directory.municipality_choices(db.session)]


def _value(form: Any, name: str) -> Any:
    value = getattr(form, name).data
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return blank_to_none(value)


def incident_payload(form: Any) -> dict[str, Any]:
    data = {name: _value(form, name) for name in INTAKE_FIELDS["incident"]}
    data["municipality"] = _value(form, "incident_municipality")
    data["violence_types"] = form.violence_types.data or []
    return {key: value for key, value in data.items() if value is not None}


TRI_STATE = {"yes": True, "no": False}  # "" (not asked) is None


def protocol_payload(form: Any) -> dict[str, Any]:
    """Her protocol as the schemas take it: yes/no/not asked as true/false/null."""
    data = {name: _value(form, name) for name in contact_data.PROTOCOL_FIELDS}
    for name in ("may_call", "may_text", "may_leave_message", "may_visit"):
        data[name] = TRI_STATE.get(data[name] or "")
    return data


def needs_payload(form: Any) -> dict[str, Any]:
    data = {name: _value(form, name) for name in contact_data.NEEDS_FIELDS}
    data["interpreter_needed"] = TRI_STATE.get(data["interpreter_needed"] or "")
    data["disability"] = form.disability.data or []
    if form.nationality_withheld.data:
        data["nationality"] = contact_data.PREFERS_NOT_TO_SAY
    return data


def _said(document: dict[str, Any]) -> dict[str, Any] | None:
    """A part of the intake left untouched is not recorded at all."""
    return document if any(value not in (None, []) for value in document.values()) else None


def intake_payload(form: IntakeForm) -> dict[str, Any]:
    survivor = {name: _value(form, name) for name in INTAKE_FIELDS["survivor"]}
    survivor.update(
        contact_protocol=_said(protocol_payload(form)), access_needs=_said(needs_payload(form))
    )
    return {
        "survivor": {key: value for key, value in survivor.items() if value is not None},
        "incident": incident_payload(form),
        # An unticked box says nothing: on a matched intake it leaves her consent as it is.
        "consent": {name: True for name in INTAKE_FIELDS["consent"] if getattr(form, name).data},
    }


def require_case_worker() -> None:
    if not may_work_on_cases(current_user):
        abort(403)


@bp.route("/cases/new", methods=["GET", "POST"])
def intake() -> Response | str | tuple[str, int]:
    require_case_worker()
    form = IntakeForm()
    form.municipality.choices = form.incident_municipality.choices = municipality_choices()
    if not form.validate_on_submit():
        return render_template("cases/intake.html", form=form)
    if request.form.get("check_duplicates"):
        return intake_duplicates(form)

    def open_case() -> cases.IntakeResult:
        data = load(IntakeIn, intake_payload(form))
        return cases.open_case(
            db.session, get_keyring(), web_caller(), data, current_app.config["RUTA_DEPARTMENT"]
        )

    result, problems = attempt(form, FIELD_NAMES, open_case)
    if result is None:
        return render_template("cases/intake.html", form=form, problems=problems), 422
    if result.matched_existing:
        flash(joined_message(result), "info")
        return redirect(url_for("cases.case_page", case_id=result.case.id), code=303)
    # The code and PIN exist in clear only now: sealed for the slip's one GET (post/
    # redirect/get: Back or a reload never posts the intake again nor shows the PIN).
    slip_kept(result.case.id, {"code": result.status_code, "pin": result.status_pin})
    return redirect(url_for("cases.slip", case_id=result.case.id), code=303)


@bp.get("/cases/<case_id>/slip")
def slip(case_id: str) -> str:
    """The survivor's slip: the status code and PIN once, then only how to look her case
    up. The address of /status comes from this server's own address."""
    require_case_worker()
    case = access.case_for(
        db.session, web_caller(), parse_uuid(case_id), need=policy.READ, closed_ok=True
    ).case
    shown = slip_taken(case.id) or {}
    return render_template(
        "cases/slip.html",
        case=case,
        code=shown.get("code"),
        pin=shown.get("pin"),
        status_url=url_for("public.status", _external=True),
        office=current_user.institution,
    )


DUPLICATE_FIELDS = ("given_names", "family_names", "birth_date", "phone", "dui")


def intake_duplicates(form: IntakeForm) -> tuple[str, int]:
    """The "Buscar posibles coincidencias" button: the same form, posted, comes back with
    what it typed and the visible records that may be hers. Nothing is saved."""
    typed = {name: _value(form, name) for name in DUPLICATE_FIELDS}

    def look() -> list[Any]:
        data = load(DuplicatesIn, {k: v for k, v in typed.items() if v is not None})
        return duplicates.possible_duplicates(db.session, get_keyring(), web_caller(), data)

    found, problems = attempt(form, {}, look)
    candidates = None if found is None else [present_candidate(c) for c in found]
    page = render_template("cases/intake.html", form=form, problems=problems, candidates=candidates)
    return page, 200 if found is not None else 422


def joined_message(result: cases.IntakeResult) -> str:
    if result.access == policy.FULL:
        return _(
            "Esta persona ya tenía expediente (%(n)s). Se agregó el hecho y su institución "
            "se unió al expediente.",
            n=result.case.number,
        )
    return _(
        "Esta persona ya tenía expediente (%(n)s). Se agregó el hecho, pero su institución "
        "solo verá lo que ella misma registre: la sobreviviente no ha autorizado compartir "
        "su expediente.",
        n=result.case.number,
    )


def render_case(
    case_id: str, status: int = 200, opened: str | None = None, **forms: Any
) -> tuple[str, int]:
    """The case page, or with `opened` (a section's anchor) the page of that one form."""
    _case, record, view = referrals.read_case(
        db.session,
        get_keyring(),
        web_caller(),
        parse_uuid(case_id),
        current_app.config["RUTA_DEPARTMENT"],
    )
    if view == policy.PURGED:
        return render_template("cases/purged.html", record=record), status
    from app.web.case_corrections import correction_context
    from app.web.case_page import OPENED_FORMS, case_page_context

    may = policy.actions_for(view, current_user.role, record.get("status"))
    if opened is not None and not may.get(OPENED_FORMS[opened][1]):
        abort(403)
    context = case_page_context(record, view, forms, may, opened)
    context.update(correction_context(record, forms, opened))
    return render_template(
        "cases/case_form.html" if opened else "cases/case.html",
        record=record,
        view=view,
        may=may,
        opened=opened,
        failed=bool(context["failed_section"]) or status >= 400,
        **context,
    ), status


@bp.get("/cases/<case_id>")
def case_page(case_id: str) -> tuple[str, int]:
    """The case page; after a refused form (post/redirect/get), with that form as she
    left it and its errors, once."""
    from app.web.case_page import page_form_makers

    return render_case(case_id, **restored_forms(case_id, page_form_makers()))


@bp.get("/cases/<case_id>/forms/<section>")
def case_form(case_id: str, section: str) -> tuple[str, int]:
    """One form of the case page on a page of its own, under the case's header: the case
    page links here instead of drawing every form it offers."""
    from app.web.case_page import OPENED_FORMS

    if section not in OPENED_FORMS:
        abort(404)
    return render_case(case_id, opened=section)


@bp.route("/cases/<case_id>/incidents/new", methods=["GET", "POST"])
def add_incident(case_id: str) -> Response | str | tuple[str, int]:
    require_case_worker()
    # A closed case takes a new incident: saving it reopens the case.
    case = access.case_for(db.session, web_caller(), parse_uuid(case_id), closed_ok=True).case
    if request.method == "GET":
        given = restored_forms(case_id, {"incident_form": partial(IncidentForm, prefix="")})
        form = given.get("incident_form") or IncidentForm()
        form.incident_municipality.choices = municipality_choices()
        return render_template(
            "cases/incident.html", form=form, case=case, problems=given.get("problems", [])
        )
    form = IncidentForm()
    form.incident_municipality.choices = municipality_choices()
    if not form.validate_on_submit():
        return refused(case_id, "incident_form", form, [], "", endpoint="cases.add_incident")

    def add() -> Any:
        return cases.add_incident(
            db.session,
            get_keyring(),
            web_caller(),
            case.id,
            load(IncidentIn, incident_payload(form)),
        )

    names = {"municipality": "incident_municipality"}
    incident, problems = attempt(form, names, add)
    if incident is None:
        return refused(case_id, "incident_form", form, problems, "", endpoint="cases.add_incident")
    flash(_("Hecho agregado al expediente."), "info")
    return redirect(url_for("cases.case_page", case_id=case.id, _anchor="hechos"), code=303)
