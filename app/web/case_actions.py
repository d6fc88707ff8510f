"""The forms of the case page: each posts here, and comes back to the case page."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.cases import access, aggressors, care, complaints
from app.cases import service as cases
from app.cases.antivirus import scanner_at
from app.cases.attachments import (
    RefusedByAntivirus,
    Upload,
    add_attachment,
    download_attachment,
    record_antivirus_refusal,
)
from app.cases.care_schemas import (
    CaseStatusIn,
    ComplaintIn,
    FollowUpIn,
    FollowUpOutcomeIn,
    MeasureUpdateIn,
    NoteIn,
    RiskIn,
    SafetyPlanIn,
)
from app.cases.policy import CONSENT_KEYS
from app.cases.risk import QUESTION_KEYS, QUESTIONS, RiskResult
from app.cases.risk import REASONS as RISK_REASONS
from app.cases.schemas import ConsentIn
from app.core.downloads import file_response
from app.core.errors import Conflict
from app.core.ids import parse_uuid
from app.core.transaction import discard_changes, record_despite_failure
from app.crypto.service import get_keyring
from app.extensions import db
from app.referrals import service as referrals
from app.referrals.schemas import ReferralIn
from app.supervision import breakglass
from app.web.case_forms import (
    AttachmentForm,
    BreakGlassForm,
    ComplaintForm,
    ConsentForm,
    FollowUpForm,
    FollowUpOutcomeForm,
    MeasureForm,
    NoteForm,
    ReferralForm,
    RiskForm,
    SafetyPlanForm,
    StatusForm,
)
from app.web.case_page import complaint_form, referral_form
from app.web.errors import conflict_text
from app.web.formtools import (
    attempt,
    back_to_case,
    blank_to_none,
    form_data,
    load,
    submit,
    web_caller,
)
from app.web.labels import RISK, lookup
from app.web.stash import refused, restored_forms

bp = Blueprint("case_forms", __name__)
REFERRALS, EMERGENCY = "remisiones", "emergencia"  # the sections' anchors on the case page


@bp.post("/cases/<case_id>/notes")
def add_note(case_id: str) -> Response:
    form = NoteForm()
    return submit(
        case_id,
        "note_form",
        form,
        lambda: care.add_note(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            load(NoteIn, form_data(form, "kind", "given_on", "text", "confidential")),
        ),
        "notas",
        _("Nota guardada."),
    )


@bp.post("/cases/<case_id>/follow-ups")
def add_follow_up(case_id: str) -> Response:
    form = FollowUpForm()
    return submit(
        case_id,
        "follow_up_form",
        form,
        lambda: care.add_follow_up(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            load(FollowUpIn, form_data(form, "due_on", "channel")),
        ),
        "seguimiento",
        _("Seguimiento agendado."),
    )


@bp.post("/cases/<case_id>/follow-ups/<follow_up_id>/outcome")
def record_follow_up(case_id: str, follow_up_id: str) -> Response:
    form = FollowUpOutcomeForm()
    return submit(
        case_id,
        "outcome_form",
        form,
        lambda: care.record_follow_up(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            parse_uuid(follow_up_id),
            load(FollowUpOutcomeIn, form_data(form, "outcome", "note", "version")),
        ),
        "seguimiento",
        _("Resultado registrado."),
    )


@bp.post("/cases/<case_id>/safety-plan")
def save_safety_plan(case_id: str) -> Response:
    form = SafetyPlanForm()
    return submit(
        case_id,
        "plan_form",
        form,
        lambda: care.save_safety_plan(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            load(SafetyPlanIn, form_data(form, "plan", "version")),
        ),
        "plan",
        _("Plan de seguridad guardado."),
    )


@bp.post("/cases/<case_id>/status")
def change_status(case_id: str) -> Response:
    form = StatusForm()

    def change() -> Any:
        data = form_data(form, "status", "reason", "version")
        if form.reopen_reason.data or form.reopen_note.data:
            # Reopening: her own words when given, else the code chosen.
            data["reason"] = blank_to_none((form.reopen_note.data or "").strip()) or (
                form.reopen_reason.data
            )
        return referrals.change_case_status(
            db.session, get_keyring(), web_caller(), parse_uuid(case_id), load(CaseStatusIn, data)
        )

    return submit(case_id, "status_form", form, change, "estado", _("Estado del caso actualizado."))


@bp.post("/cases/<case_id>/consent")
def record_consent(case_id: str) -> Response:
    form = ConsentForm()

    def record() -> Any:
        # The consent form shows every purpose as it stands: each box says yes or no.
        data = load(ConsentIn, {name: bool(getattr(form, name).data) for name in CONSENT_KEYS})
        return cases.change_consent(
            db.session, get_keyring(), web_caller(), parse_uuid(case_id), data
        )

    return submit(
        case_id,
        "consent_form",
        form,
        record,
        "consentimiento",
        _("Consentimiento registrado."),
    )


@bp.post("/cases/<case_id>/complaints")
def file_complaint(case_id: str) -> Response:
    form = complaint_form(ComplaintForm())

    def file() -> Any:
        data = form_data(form, "number", "filed_on", "forward_to_prosecutor")
        measure = form_data(form, "measure", "granted", "court", "starts_on", "ends_on")
        data["measures"] = [measure] if measure.get("measure") else []
        return complaints.file_complaint(
            db.session, get_keyring(), web_caller(), parse_uuid(case_id), load(ComplaintIn, data)
        )

    return submit(
        case_id,
        "complaint_form",
        form,
        file,
        "denuncia",
        _("Denuncia registrada."),
    )


@bp.post("/cases/<case_id>/measures/<measure_id>")
def update_measure(case_id: str, measure_id: str) -> Response:
    form = MeasureForm()
    return submit(
        case_id,
        "measure_form",
        form,
        lambda: complaints.update_measure(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            parse_uuid(measure_id),
            load(MeasureUpdateIn, form_data(form, "status", "version")),
        ),
        "denuncia",
        _("Medida actualizada."),
    )


@bp.post("/cases/<case_id>/referrals")
def refer(case_id: str) -> Response:
    form = referral_form(ReferralForm())

    def send() -> Any:
        data = form_data(
            form, "to_institution", "service", "urgency", "reason", "consent", "dependant_id"
        )
        return referrals.refer_case(
            db.session, get_keyring(), web_caller(), parse_uuid(case_id), load(ReferralIn, data)
        )

    if not form.validate_on_submit():
        return refused(case_id, "referral_form", form, [], REFERRALS)
    try:
        referral, problems = attempt(form, {}, send)
    except Conflict as error:  # a closed case: said in place, with what was typed
        discard_changes()
        return refused(case_id, "referral_form", form, [conflict_text(error)], REFERRALS)
    if referral is None:
        return refused(case_id, "referral_form", form, problems, REFERRALS)
    flash(_("Remisión enviada."), "info")
    return redirect(url_for("referrals.sheet", referral_id=referral.id), code=303)


@bp.post("/cases/<case_id>/attachments")
def upload(case_id: str) -> Response:
    form = AttachmentForm()

    def store() -> Any:
        upload = request.files.get("file")
        given = Upload(
            filename=(upload.filename or "") if upload else "",
            data=upload.read() if upload else b"",
            description=form.description.data,
        )
        ring, caller = get_keyring(), web_caller()
        try:
            return add_attachment(
                db.session,
                ring,
                caller,
                parse_uuid(case_id),
                given,
                current_app.config["RUTA_ATTACHMENTS_DIR"],
                scanner=scanner_at(current_app.config["RUTA_CLAMD"]),
            )[0]
        except RefusedByAntivirus as error:  # shown on the form like any refused file
            refusal = error  # the except name is unbound for closures
            record_despite_failure(
                lambda: record_antivirus_refusal(db.session, ring, caller, refusal)
            )
            raise

    return submit(
        case_id,
        "attachment_form",
        form,
        store,
        "adjuntos",
        _("Archivo guardado cifrado."),
    )


@bp.get("/cases/<case_id>/attachments/<attachment_id>")
def download(case_id: str, attachment_id: str) -> Response:
    file = download_attachment(
        db.session,
        get_keyring(),
        web_caller(),
        parse_uuid(case_id),
        parse_uuid(attachment_id),
        current_app.config["RUTA_ATTACHMENTS_DIR"],
    )
    return file_response(file.content, file.content_type, file.name)


@bp.post("/cases/<case_id>/break-glass")
def break_glass(case_id: str) -> Response:
    form = BreakGlassForm()
    if not form.validate_on_submit():
        return refused(case_id, "break_glass_form", form, [], EMERGENCY)

    def start() -> Any:
        return breakglass.start_break_glass(
            db.session,
            get_keyring(),
            web_caller(),
            parse_uuid(case_id),
            form.reason.data or "",
            password=form.password.data or "",
            minutes=current_app.config["RUTA_BREAK_GLASS_MINUTES"],
        )

    grant, problems = attempt(form, {}, start)
    if grant is None:
        return refused(case_id, "break_glass_form", form, problems, EMERGENCY)
    return back_to_case(
        case_id,
        "",
        _(
            "Acceso de emergencia abierto por %(m)s minutos. Quedó registrado.",
            m=current_app.config["RUTA_BREAK_GLASS_MINUTES"],
        ),
    )


ANSWER_VALUES = {"yes": True, "no": False, "unknown": None}
# The schema's message for answer "7" goes next to radio group q7.
ANSWER_FIELDS = {f"answers.{key}": f"q{key}" for key in QUESTION_KEYS}


@bp.route("/cases/<case_id>/risk", methods=["GET", "POST"])
def risk(case_id: str) -> Response | str | tuple[str, int]:
    case = access.case_for(db.session, web_caller(), parse_uuid(case_id)).case
    questions = list(zip(QUESTION_KEYS, QUESTIONS, strict=True))
    if request.method == "GET":  # after a refusal, the answers as she gave them, once
        given = restored_forms(case_id, {"risk_form": partial(RiskForm, prefix="")})
        return render_template(
            "cases/risk.html",
            form=given.get("risk_form") or RiskForm(),
            case=case,
            questions=questions,
            problems=given.get("problems", []),
            record={"id": case.id, "repeat_aggressor": aggressors.repeat_signal(db.session, case)},
        )
    form = RiskForm()
    if not form.validate_on_submit():
        return refused(case_id, "risk_form", form, [], "", endpoint="case_forms.risk")
    # Only the questions answered: one left blank is refused, never read as "no sabe".
    answers = {
        key: ANSWER_VALUES[chosen]
        for key in QUESTION_KEYS
        if (chosen := form[f"q{key}"].data) in ANSWER_VALUES
    }

    def assess() -> Any:
        data = {
            "answers": answers,
            "judgement_high": bool(form.judgement_high.data),
            "judgement_reason": blank_to_none(form.judgement_reason.data),
            "reason": blank_to_none((form.reason.data or "").strip()),
        }
        return care.assess_risk(
            db.session, get_keyring(), web_caller(), case.id, load(RiskIn, data)
        )

    outcome, problems = attempt(form, ANSWER_FIELDS, assess)
    if outcome is None:
        return refused(case_id, "risk_form", form, problems, "", endpoint="case_forms.risk")
    return back_to_case(case.id, "riesgo", _risk_message(outcome[1]))


def _risk_message(result: RiskResult) -> str:
    message = _(
        "Riesgo %(level)s (%(score)s respuestas sí).",
        level=lookup(RISK, result.level),  # the label ("alto"), not the stored code ("high")
        score=result.score,
    )
    message += " " + _(
        "Motivo: %(reasons)s.",
        reasons=", ".join(_(RISK_REASONS.get(code, code)) for code in result.reasons),
    )
    if result.level == "high":
        message += " " + _(
            "Se avisó a la Unidad de la Mujer y a supervisión. Considere remitir "
            "de inmediato para medidas de protección."
        )
    return message
