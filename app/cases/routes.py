"""Case pages: intake, search, the case page and the forms on it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.auth.models import Municipality
from app.auth.policy import may_file_complaint, may_read_audit, may_work_on_cases
from app.cases import access
from app.cases import service as cases
from app.cases.forms import IncidentForm, IntakeForm, SearchForm
from app.cases.records import case_summary
from app.cases.schemas import IncidentIn, IntakeIn
from app.common import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db
from app.webforms import attempt, audit_web, blank_to_none, load

bp = Blueprint("cases", __name__)

INTAKE_FIELDS = {
    "survivor": (
        "given_names",
        "family_names",
        "dui",
        "birth_date",
        "sex",
        "municipality",
        "phone",
        "address",
        "safe_contact",
    ),
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
    ),
    "consent": ("share_with_network", "statistics", "police"),
}
FIELD_NAMES = {
    "incident.municipality": "incident_municipality",
    **{f"{group}.{name}": name for group, names in INTAKE_FIELDS.items() for name in names},
}


def municipality_choices() -> list[tuple[str, str]]:
    rows = db.session.execute(
        select(Municipality.code, Municipality.name).order_by(Municipality.name)
    ).all()
    return [("", "—")] + [(code, name) for code, name in rows]


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


def intake_payload(form: IntakeForm) -> dict[str, Any]:
    survivor = {name: _value(form, name) for name in INTAKE_FIELDS["survivor"]}
    return {
        "survivor": {key: value for key, value in survivor.items() if value is not None},
        "incident": incident_payload(form),
        "consent": {name: bool(getattr(form, name).data) for name in INTAKE_FIELDS["consent"]},
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

    def open_case() -> cases.IntakeResult:
        data = load(IntakeIn, intake_payload(form))
        return cases.open_case(
            db.session, get_keyring(), current_user, data, current_app.config["RUTA_DEPARTMENT"]
        )

    result, problems = attempt(form, FIELD_NAMES, open_case)
    if result is None:
        return render_template("cases/intake.html", form=form, problems=problems), 422
    audit_web(
        "case_update" if result.matched_existing else "case_create",
        object_type="case",
        object_id=result.case.id,
        case_id=result.case.id,
        detail="matched_intake" if result.matched_existing else "opened",
    )
    db.session.commit()
    if result.matched_existing:
        flash(
            _(
                "Esta persona ya tenía expediente (%(n)s). Se agregó el hecho y su institución "
                "se unió al expediente.",
                n=result.case.number,
            ),
            "info",
        )
        return redirect(url_for("cases.case_page", case_id=result.case.id))
    # The code and PIN exist in clear only now: the slip is printed from this answer.
    return render_template(
        "cases/slip.html", case=result.case, code=result.status_code, pin=result.status_pin
    )


@bp.get("/cases/search")
def search() -> str:
    require_case_worker()
    form = SearchForm(request.args)
    found = None
    summaries: list[dict[str, Any]] = []
    problems: list[str] = []
    if request.args:
        query = {
            k: v
            for k, v in {
                "dui": form.dui.data,
                "name": form.name.data,
                "birth_date": _value(form, "birth_date"),
            }.items()
            if v
        }

        def run() -> list[Any]:
            return cases.search_cases(
                db.session, get_keyring(), current_user, **load(cases_search_schema(), query)
            )

        found, problems = attempt(form, {}, run)
        if found is not None:
            audit_web("case_search", object_type="case", detail=f"results={len(found)}")
            summaries = [case_summary(c) for c in found]  # before the commit expires the rows
            db.session.commit()
    shown = summaries if found is not None else None  # None: nothing was searched
    return render_template("cases/search.html", form=form, problems=problems, found=shown)


def cases_search_schema() -> Any:
    from app.cases.schemas import SearchIn

    return SearchIn


def render_case(case_id: str, status: int = 200, **forms: Any) -> tuple[str, int]:
    user = current_user
    case, record, view = access.read_case(
        db.session, get_keyring(), user, parse_uuid(case_id), current_app.config["RUTA_DEPARTMENT"]
    )
    audit_web("case_view", object_type="case", object_id=case.id, case_id=case.id, detail=view)
    db.session.commit()  # on the record before the page is sent
    from app.cases.page import case_page_context

    context = case_page_context(record, view, forms)
    return render_template(
        "cases/case.html",
        record=record,
        view=view,
        can_edit=view == access.FULL,
        is_pnc=may_file_complaint(user),
        is_supervisor=may_read_audit(user),
        **context,
    ), status


@bp.get("/cases/<case_id>")
def case_page(case_id: str) -> tuple[str, int]:
    return render_case(case_id)


@bp.route("/cases/<case_id>/incidents/new", methods=["GET", "POST"])
def add_incident(case_id: str) -> Response | str | tuple[str, int]:
    require_case_worker()
    case = cases.get_case_for(db.session, current_user, parse_uuid(case_id))
    form = IncidentForm()
    form.incident_municipality.choices = municipality_choices()
    if not form.validate_on_submit():
        return render_template("cases/incident.html", form=form, case=case)

    def add() -> Any:
        return cases.add_incident(
            db.session,
            get_keyring(),
            current_user,
            case.id,
            load(IncidentIn, incident_payload(form)),
        )

    names = {"municipality": "incident_municipality"}
    incident, problems = attempt(form, names, add)
    if incident is None:
        return render_template("cases/incident.html", form=form, case=case, problems=problems), 422
    audit_web(
        "case_update",
        object_type="incident",
        object_id=incident.id,
        case_id=case.id,
        detail="incident_added",
    )
    db.session.commit()
    flash(_("Hecho agregado al expediente."), "info")
    return redirect(url_for("cases.case_page", case_id=case.id))
