"""The work list page (`/cases`) and the caseload forms: take or reassign a case from its
page, and (the lead) move a leaver's cases to another worker.

The filters are codes and numbers in the query string, so a list can be bookmarked and
printed; an identifier in that query string is refused unread (CONTRACT §5). Names in
the table are decrypted by the service for the rows shown only.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from app.cases import caseload, search
from app.cases.schemas import (
    IDENTIFIER_PARAMETERS,
    AssignmentIn,
    CaseloadMoveIn,
    WorkListQueryIn,
)
from app.core.ids import parse_uuid
from app.core.time import local_today
from app.crypto.service import get_keyring
from app.extensions import db
from app.web.case_forms import AssignmentForm, MoveCaseloadForm, WorkListForm
from app.web.cases import bp, municipality_choices, require_case_worker
from app.web.formtools import attempt, blank_to_none, load, web_caller
from app.web.labels import RISK, STATUS
from app.web.stash import refused

FILTERS = ("assigned", "status", "risk", "next_contact", "inactive_days", "municipality", "sort")
SORTS = {
    "activity": _l("Última actividad"),
    "risk": _l("Riesgo"),
    "next_contact": _l("Próximo contacto"),
    "number": _l("Número de expediente"),
}
TABS = {
    "all": _l("Todos"),
    "me": _l("Míos"),
    "unassigned": _l("Sin responsable activo"),
}


def filter_form() -> WorkListForm:
    form = WorkListForm(request.args)
    form.status.choices = [("", _("Todos")), *((k, str(v)) for k, v in STATUS.items())]
    form.risk.choices = [("", _("Todos")), *((k, str(v)) for k, v in RISK.items())]
    form.municipality.choices = [("", _("Todos")), *municipality_choices()[1:]]
    form.sort.choices = [(k, str(v)) for k, v in SORTS.items()]
    return form


def query_of(form: WorkListForm) -> dict[str, Any]:
    """What the form says, blanks left out: the schema checks every value."""
    values = {name: blank_to_none(getattr(form, name).data) for name in FILTERS}
    values["overdue"] = "1" if form.overdue.data else None
    values["page"] = blank_to_none(request.args.get("page", ""))
    return {name: value for name, value in values.items() if value is not None}


def link(query: dict[str, Any], **changes: Any) -> str:
    """The work list with these filters changed (None drops one); back to page 1."""
    args = {**query, "page": None, **changes}
    return url_for("cases.work_list", **{k: v for k, v in args.items() if v is not None})


def move_form(form: MoveCaseloadForm | None = None) -> MoveCaseloadForm:
    """The lead's form: leavers who still hold cases are offered as a source."""
    form = form or MoveCaseloadForm(formdata=None)
    found, _unassigned = caseload.workers(db.session, web_caller())
    form.from_user_id.choices = [
        (str(w.id), _("%(name)s (casos abiertos: %(n)s)", name=w.name, n=w.open_cases))
        for w in found
        if w.open_cases or w.active
    ]
    form.to_user_id.choices = [(str(w.id), w.name) for w in found if w.active]
    return form


def render_work_list(
    form: WorkListForm,
    status: int = 200,
    moving: MoveCaseloadForm | None = None,
    refused: list[str] | None = None,
) -> tuple[str, int]:
    query = query_of(form)

    def run() -> search.WorkList:
        wanted = load(WorkListQueryIn, query)
        return search.work_list(db.session, get_keyring(), web_caller(), **wanted)

    found, problems = attempt(form, {}, run)
    if found is None:
        found, status = search.WorkList([], None, {}), 422
    lead = caseload.caller_is_lead(web_caller())
    page = int(query.get("page", 1)) if str(query.get("page", 1)).isdigit() else 1
    return render_template(
        "cases/work_list.html",
        form=form,
        found=found,
        query=query,
        page=page,
        today_iso=local_today().isoformat(),
        link=link,
        tabs=TABS,
        lead=lead,
        move_form=move_form(moving) if lead else None,
        problems=[*problems, *(refused or [])],
    ), status


@bp.get("/cases", endpoint="work_list")
def work_list_page() -> tuple[str, int]:
    require_case_worker()
    if not IDENTIFIER_PARAMETERS.isdisjoint(key.lower() for key in request.args):
        abort(400)  # never read, never echoed: use the search page (a POST)
    return render_work_list(filter_form())


@bp.post("/caseload/move", endpoint="move_caseload")
def move_caseload() -> Response | tuple[str, int]:
    require_case_worker()
    form = MoveCaseloadForm()
    if not form.validate_on_submit():
        return render_work_list(filter_form(), 400, moving=form)

    def move() -> int:
        data = load(CaseloadMoveIn, _ids(form, "from_user_id", "to_user_id"))
        return caseload.move_caseload(
            db.session, get_keyring(), web_caller(), data["from_user_id"], data["to_user_id"]
        )

    moved, problems = attempt(form, {}, move)
    if moved is None:
        return render_work_list(filter_form(), 422, moving=form, refused=problems)
    flash(_("Casos movidos: %(n)s.", n=moved), "info")
    return redirect(url_for("cases.work_list"))


def _ids(form: Any, *names: str) -> dict[str, Any]:
    """Select values as the schema wants them: numbers as ints, nothing as None; any
    other text goes through as typed, for the schema to refuse."""
    values = {}
    for name in names:
        raw = getattr(form, name).data
        values[name] = int(raw) if str(raw or "").isdigit() else blank_to_none(raw)
    return values


@bp.post("/cases/<case_id>/assignment", endpoint="assignment")
def change_assignment(case_id: str) -> Response:
    form = AssignmentForm()
    if not form.validate_on_submit():
        return refused(case_id, "assignment_form", form, [], "responsable")

    def change() -> caseload.Assignment:
        wanted = {"action": form.action.data}
        if form.action.data == "assign":
            wanted.update(_ids(form, "user_id"))
        data = load(AssignmentIn, wanted)
        return caseload.change_assignment(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            data["action"],
            data.get("user_id"),
        )

    done, problems = attempt(form, {}, change)
    if done is None:
        return refused(case_id, "assignment_form", form, problems, "responsable")
    flash(_assignment_message(done), "info")
    return redirect(url_for("cases.case_page", case_id=done.case_id, _anchor="responsable"))


def _assignment_message(done: caseload.Assignment) -> str:
    if done.responsible is None:
        return _("El caso quedó sin responsable en su institución.")
    if done.responsible.id == web_caller().id:
        return _("Ahora usted es la responsable de este caso.")
    return _("El caso quedó a cargo de %(name)s.", name=done.responsible.name)
