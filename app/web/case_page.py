"""What the case page needs besides the record: its forms and their choices."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from flask_babel import gettext as _

from app.cases import access, caseload, policy
from app.directory import service as directory
from app.extensions import db
from app.web.aggressor_forms import PREFIX as AGGRESSOR_PREFIX
from app.web.aggressor_forms import AggressorForm, aggressor_form
from app.web.case_forms import (
    AssignmentForm,
    AttachmentForm,
    BreakGlassForm,
    ComplaintForm,
    ConsentForm,
    ErasureForm,
    FollowUpForm,
    LegalHoldForm,
    NoteForm,
    ReferralForm,
    SafetyPlanForm,
    StatusForm,
    SurvivorCorrectionForm,
    VoidForm,
)
from app.web.dependant_forms import DependantForm, dependant_choices
from app.web.formtools import web_caller

FORMS = {
    "note_form": NoteForm,
    "follow_up_form": FollowUpForm,
    "plan_form": SafetyPlanForm,
    "status_form": StatusForm,
    "consent_form": ConsentForm,
    "complaint_form": ComplaintForm,
    "attachment_form": AttachmentForm,
    "break_glass_form": BreakGlassForm,
    "hold_form": LegalHoldForm,
    "erasure_form": ErasureForm,
}


def _with_blank(choices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("", "—"), *choices]


def receivers_for(service: str | None, own_institution_id: int) -> list[Any]:
    """The institutions the caller may refer to: never her own, and for a chosen service
    only those that give it. Each option names its services for forms.js to filter by."""
    given = directory.receiver_services(db.session)
    return [
        (value, name, {"data-services": " ".join(given.get(value, []))})
        for value, name in directory.receiver_choices(db.session)
        if value != str(own_institution_id) and (not service or service in given.get(value, []))
    ]


def referral_form(form: ReferralForm | None = None) -> ReferralForm:
    form = form or ReferralForm(formdata=None)
    service = form.service.data or None
    form.to_institution.choices = [
        ("", "—"),
        *receivers_for(service, web_caller().institution_id),
    ]
    form.service.choices = _with_blank(directory.service_choices(db.session))
    return form


def complaint_form(form: ComplaintForm | None = None) -> ComplaintForm:
    form = form or ComplaintForm(formdata=None)
    form.measure.choices = _with_blank(directory.measure_choices(db.session))
    return form


# The forms the case page draws in place; every other form opens on its own page
# (`GET /cases/<id>/forms/<section>`), or in place after a refusal: drawing them all was
# half the page's rendering.
INLINE = {"break_glass_form": "break_glass", "hold_form": "legal_hold", "erasure_form": "erasure"}
# section anchor → (the form's name, the `may` action that offers it)
OPENED_FORMS: dict[str, tuple[str, str]] = {
    "identidad": ("survivor_form", "correct"),
    "cambiar-contacto": ("contact_form", "correct"),
    "cambiar-necesidades": ("needs_form", "correct"),
    "agresores": ("aggressor_form", "add"),
    "menores": ("dependant_form", "add"),
    "remisiones": ("referral_form", "refer"),
    "notas": ("note_form", "add"),
    "seguimiento": ("follow_up_form", "add"),
    "plan": ("plan_form", "plan"),
    "denuncia": ("complaint_form", "complaint"),
    "adjuntos": ("attachment_form", "add"),
    "consentimiento": ("consent_form", "consent"),
    "estado": ("status_form", "status"),
}


def _fresh(
    record: dict[str, Any], name: str, given: dict[str, Any], wanted: set[str]
) -> Any | None:
    """The form `name` as the page shows it: as typed after a refusal, else fresh when the
    page opens it, else None (the page offers a link to open it)."""
    form = given.get(name)
    if form is None and name not in wanted:
        return None
    if name == "complaint_form":
        return complaint_form(form)
    if name == "referral_form":
        form = referral_form(form)
        form.dependant_id.choices = dependant_choices(record)
        return form
    if name == "aggressor_form":
        return aggressor_form(record, form)
    if name == "dependant_form":
        return form or DependantForm(formdata=None)
    return form or _filled(record, name, FORMS[name](formdata=None))


def _filled(record: dict[str, Any], name: str, form: Any) -> Any:
    """A fresh form with what stands today: her plan, the case's version, her consent."""
    plan = record.get("safety_plan")
    if name == "plan_form" and plan:
        form.plan.data, form.version.data = plan["plan"], plan["version"]
    if name == "status_form":
        form.version.data = record.get("version")
    if name == "consent_form" and record.get("consent"):
        for key in ("share_with_network", "statistics", "police"):
            getattr(form, key).data = record["consent"][key]
    return form


def case_page_context(
    record: dict[str, Any],
    view: str,
    given: dict[str, Any],
    may: dict[str, bool],
    opened: str | None = None,
) -> dict[str, Any]:
    """The page's forms: the one that came back with errors, the one `opened` (its
    section's anchor) and those drawn in place that `may` offers; None for the others."""
    wanted = {name for name, action in INLINE.items() if may.get(action)}
    if opened:
        wanted.add(OPENED_FORMS[opened][0])
    names = (*FORMS, "referral_form", "dependant_form", "aggressor_form")
    forms = {name: _fresh(record, name, given, wanted) for name in names}
    responsible = assignment_context(record, view, given.get("assignment_form"))
    from app.web.justice import justice_context

    return {
        **forms,
        **responsible,
        **justice_context(record, given),
        "problems": given.get("problems", []),
        "failed_section": given.get("failed_section"),
    }


def page_form_makers() -> dict[str, Callable[[Any], Any]]:
    """How each form of the case page is made again from what was typed (app/web/stash.py)."""
    from app.web.case_corrections import CONTACT_PREFIX, NEEDS_PREFIX, SURVIVOR_PREFIX
    from app.web.case_forms import AccessNeedsForm, SafeContactForm
    from app.web.justice import justice_form_makers

    makers: dict[str, Callable[[Any], Any]] = {
        name: partial(cls, prefix="") for name, cls in FORMS.items()
    }
    makers["referral_form"] = partial(ReferralForm, prefix="")
    makers["dependant_form"] = partial(DependantForm, prefix="")
    makers["void_form"] = partial(VoidForm, prefix="")
    makers["survivor_form"] = partial(SurvivorCorrectionForm, prefix=SURVIVOR_PREFIX)
    makers["contact_form"] = partial(SafeContactForm, prefix=CONTACT_PREFIX)
    makers["needs_form"] = partial(AccessNeedsForm, prefix=NEEDS_PREFIX)
    makers["aggressor_form"] = partial(AggressorForm, prefix=AGGRESSOR_PREFIX)
    makers.update(justice_form_makers())
    return makers


def assignment_context(record: dict[str, Any], view: str, form: Any) -> dict[str, Any]:
    """The "Responsable" block: her own institution's worker, and what the caller may do
    about it (a party's views only)."""
    if view not in (policy.FULL, policy.OWN_PARTS):
        return {"assignment": None, "assignment_form": None}
    caller = web_caller()
    held = record.get("responsible")
    may = caseload.assignment_actions(caller, access.Responsible(**held) if held else None)
    form = form or AssignmentForm(formdata=None)
    if may["assign"]:
        workers = caseload.assignees(db.session, caller)
        form.user_id.choices = [
            ("", _("Nadie (sin responsable)")),
            *((str(w.id), w.name) for w in workers),
        ]
    return {"assignment": {"responsible": held, "may": may}, "assignment_form": form}
