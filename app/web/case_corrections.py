"""Correcting her record from the case page: her identity and contact, an incident, and
voiding an incident entered in error. Each form asks why and carries the version read;
a refusal comes back in place, with what was typed."""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.cases import contact, contact_data, corrections, incident_corrections
from app.cases.present import still_open_in
from app.cases.schemas import (
    AccessNeedsIn,
    IncidentCorrectionIn,
    SafeContactIn,
    SurvivorCorrectionIn,
    VoidIn,
)
from app.core.errors import Conflict
from app.core.ids import parse_uuid
from app.core.transaction import discard_changes
from app.crypto.service import get_keyring
from app.extensions import db
from app.web.case_forms import (
    AccessNeedsForm,
    IncidentCorrectionForm,
    SafeContactForm,
    SurvivorCorrectionForm,
    VoidForm,
)
from app.web.cases import incident_payload, municipality_choices, needs_payload, protocol_payload
from app.web.errors import conflict_text
from app.web.formtools import attempt, blank_to_none, load, web_caller
from app.web.formtools import submit as submit_on_case
from app.web.stash import refused, restored_forms

bp = Blueprint("case_corrections", __name__)

CORRECTION_FORM = "incident_correction_form"
SURVIVOR_PREFIX = "fix"  # the case page holds other forms: ids of their own
CONTACT_PREFIX, NEEDS_PREFIX = "sc", "an"
CONTACT_SECTION, NEEDS_SECTION = "cambiar-contacto", "cambiar-necesidades"
ANSWER = {True: "yes", False: "no", None: ""}
OPTIONAL = ("dui", "phone", "address", "safe_contact")


def survivor_form(record: dict[str, Any], given: SurvivorCorrectionForm | None = None) -> Any:
    """The correction form, filled with her identity as it stands (or as typed)."""
    form = given or SurvivorCorrectionForm(formdata=None, prefix=SURVIVOR_PREFIX)
    form.municipality.choices = municipality_choices()
    survivor = record.get("survivor")
    if given is None and survivor:
        for name in (*corrections.SURVIVOR_FIELDS, "version"):
            value = survivor.get(name)
            if name == "safe_contact" and value:
                value = value["free_text"]  # the note from before the protocol
            if name == "birth_date" and value:
                value = date.fromisoformat(value)
            getattr(form, name).data = value
    return form


def contact_form(record: dict[str, Any], given: SafeContactForm | None = None) -> Any:
    """Her protocol as it stands, to change (or as typed, after a refusal)."""
    if given is not None:
        return given
    form = SafeContactForm(formdata=None, prefix=CONTACT_PREFIX)
    survivor = record.get("survivor") or {}
    protocol = survivor.get("safe_contact") or contact_data.empty_protocol()
    for name in contact_data.PROTOCOL_FIELDS:
        value = protocol.get(name)
        getattr(form, name).data = ANSWER[value] if isinstance(value, bool | None) else value
    form.phone_watched_by_aggressor.data = protocol.get("phone_watched_by_aggressor") or ""
    form.version.data = survivor.get("version")
    return form


def needs_form(record: dict[str, Any], given: AccessNeedsForm | None = None) -> Any:
    if given is not None:
        return given
    form = AccessNeedsForm(formdata=None, prefix=NEEDS_PREFIX)
    survivor = record.get("survivor") or {}
    needs = survivor.get("access_needs") or contact_data.empty_needs()
    for name in contact_data.NEEDS_FIELDS:
        getattr(form, name).data = needs.get(name)
    form.interpreter_needed.data = ANSWER[needs.get("interpreter_needed")]
    if needs.get("nationality") == contact_data.PREFERS_NOT_TO_SAY:
        form.nationality.data, form.nationality_withheld.data = None, True
    form.version.data = survivor.get("version")
    return form


def correction_context(
    record: dict[str, Any], given: dict[str, Any], opened: str | None = None
) -> dict[str, Any]:
    """What the case page needs for corrections, voiding and closing: a correction form
    only when it came back refused or is the one `opened` (its section's anchor)."""
    makers = {
        "identidad": ("survivor_form", survivor_form),
        "cambiar-contacto": ("contact_form", contact_form),
        "cambiar-necesidades": ("needs_form", needs_form),
    }
    forms = {
        name: make(record, given.get(name))
        if given.get(name) is not None or opened == section
        else None
        for section, (name, make) in makers.items()
    }
    return {
        **forms,
        "void_form": given.get("void_form"),  # drawn by hand; only its errors are needed
        "void_incident_id": given.get("void_incident_id"),
        "still_open": still_open_in(record),
    }


def _survivor_data(form: SurvivorCorrectionForm) -> dict[str, Any]:
    """Every field as the form holds it: the service keeps only those that change. An
    optional field emptied is cleared; a required one left empty is not sent."""
    data: dict[str, Any] = {"reason": form.reason.data or "", "version": form.version.data}
    for name in corrections.SURVIVOR_FIELDS:
        value = getattr(form, name).data
        value = value.isoformat() if hasattr(value, "isoformat") else blank_to_none(value)
        if value is not None or name in OPTIONAL:
            data[name] = value
    return data


def _versioned(form: Any, data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "version": form.version.data, "reason": blank_to_none(form.reason.data)}


@bp.post("/cases/<case_id>/safe-contact")
def set_safe_contact(case_id: str) -> Response:
    form = SafeContactForm(prefix=CONTACT_PREFIX)
    return submit_on_case(
        case_id,
        "contact_form",
        form,
        lambda: contact.set_safe_contact(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            load(SafeContactIn, _versioned(form, protocol_payload(form))),
        ),
        CONTACT_SECTION,
        _("Reglas de contacto guardadas. El cambio quedó en el historial."),
    )


@bp.post("/cases/<case_id>/access-needs")
def set_access_needs(case_id: str) -> Response:
    form = AccessNeedsForm(prefix=NEEDS_PREFIX)
    return submit_on_case(
        case_id,
        "needs_form",
        form,
        lambda: contact.set_access_needs(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            load(AccessNeedsIn, _versioned(form, needs_payload(form))),
        ),
        NEEDS_SECTION,
        _("Necesidades de acceso guardadas. El cambio quedó en el historial."),
    )


@bp.post("/cases/<case_id>/survivor")
def correct_survivor(case_id: str) -> Response | tuple[str, int]:
    form = SurvivorCorrectionForm(prefix=SURVIVOR_PREFIX)
    form.municipality.choices = municipality_choices()
    return submit_on_case(
        case_id,
        "survivor_form",
        form,
        lambda: corrections.correct_survivor(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            load(SurvivorCorrectionIn, _survivor_data(form)),
        ),
        "identidad",
        _("Datos corregidos. La corrección quedó en el historial."),
    )


@bp.post("/cases/<case_id>/incidents/<incident_id>/void")
def void_incident(case_id: str, incident_id: str) -> Response | tuple[str, int]:
    form = VoidForm()
    return submit_on_case(
        case_id,
        "void_form",
        form,
        lambda: incident_corrections.void_incident(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            parse_uuid(incident_id),
            load(VoidIn, {"reason": form.reason.data or ""}),
        ),
        "hechos",
        _("Hecho anulado: queda en el expediente, pero ya no se cuenta."),
        void_incident_id=incident_id,
    )


def _filled(form: IncidentCorrectionForm, found: incident_corrections.IncidentToCorrect) -> None:
    values = found.values
    for name in ("place_type", "perpetrator_relationship", "weapon", "violence_types", "modality"):
        getattr(form, name).data = values[name]
    for name in (
        "penetration",
        "children_present",
        "perpetrator_details",
        "narrative",
        "strangulation",
    ):
        getattr(form, name).data = values[name]
    form.occurred_on.data = date.fromisoformat(values["occurred_on"])
    form.incident_municipality.data = values["municipality"]
    form.version.data = found.version
    form.penetration_was.data = "1" if values["penetration"] else ""
    form.children_present_was.data = "1" if values["children_present"] else ""


def _incident_data(form: IncidentCorrectionForm) -> dict[str, Any]:
    data = {
        **incident_payload(form),
        "reason": form.reason.data or "",
        "version": form.version.data,
    }
    for name in ("penetration", "children_present"):
        data.pop(name, None)
        if getattr(form, name).data:
            data[name] = True
        elif getattr(form, f"{name}_was").data:
            data[name] = False
    data["strangulation"] = bool(form.strangulation.data)
    return data


@bp.route("/cases/<case_id>/incidents/<incident_id>/edit", methods=["GET", "POST"])
def correct_incident(case_id: str, incident_id: str) -> Response | str:
    if request.method == "GET":
        return _correction_page(case_id, incident_id)
    form = IncidentCorrectionForm()
    form.incident_municipality.choices = municipality_choices()
    if not form.validate_on_submit():
        return _refused(case_id, form, [])

    def correct() -> Any:
        return incident_corrections.correct_incident(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            parse_uuid(incident_id),
            load(IncidentCorrectionIn, _incident_data(form)),
        )

    try:
        result, problems = attempt(form, {"municipality": "incident_municipality"}, correct)
    except Conflict as error:  # stale, voided meanwhile, or the case was closed
        discard_changes()
        result, problems = None, [conflict_text(error)]
    if result is None:
        return _refused(case_id, form, problems)
    flash(_("Hecho corregido. La corrección quedó en el historial."), "info")
    return redirect(url_for("cases.case_page", case_id=case_id, _anchor="hechos"), code=303)


def _refused(case_id: str, form: IncidentCorrectionForm, problems: list[str]) -> Response:
    return refused(
        case_id, CORRECTION_FORM, form, problems, "", endpoint="case_corrections.correct_incident"
    )


def _correction_page(case_id: str, incident_id: str) -> str:
    """The incident as it stands, or (after a refusal) as she typed it, once."""
    found = incident_corrections.incident_to_correct(
        db.session, get_keyring(), web_caller(), parse_uuid(case_id), parse_uuid(incident_id)
    )
    given = restored_forms(case_id, {CORRECTION_FORM: partial(IncidentCorrectionForm, prefix="")})
    form = given.get(CORRECTION_FORM) or IncidentCorrectionForm(formdata=None)
    form.incident_municipality.choices = municipality_choices()
    if CORRECTION_FORM not in given:
        _filled(form, found)
    return render_template(
        "cases/incident.html",
        form=form,
        case=found.case,
        editing=True,
        problems=given.get("problems", []),
    )
