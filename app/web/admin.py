"""Administrators manage users and the catalogues of the network (institutions,
services, measure types, the districts' other names). They never see case content."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField, TextAreaField
from wtforms.validators import Length

from app.auth import accounts, recovery
from app.auth.caller import Caller
from app.auth.labels import ROLE_LABELS
from app.auth.models import ROLES
from app.auth.policy import may_manage_users
from app.auth.recovery import REASON_MAX, OneTimePassword
from app.core.db import DbSession
from app.core.errors import Conflict, Forbidden, InvalidInput
from app.core.transaction import discard_changes
from app.crypto.service import get_keyring
from app.directory import admin as catalogues
from app.directory import service as directory
from app.directory.models import District, Institution
from app.directory.territory import ALIAS_SEPARATOR
from app.extensions import db
from app.web.admin_forms import (
    AliasesForm,
    EntryForm,
    InstitutionForm,
    NewEntryForm,
    NewInstitutionForm,
)
from app.web.formtools import Select, attempt, show_errors, web_caller
from app.web.login import sign_out

bp = Blueprint("admin", __name__, url_prefix="/admin")
T = TypeVar("T")


class UserForm(FlaskForm):
    username = StringField(_l("Usuario"))
    display_name = StringField(_l("Nombre para mostrar"))
    institution = Select(_l("Institución"), choices=[])
    role = Select(_l("Rol"), choices=[(r, ROLE_LABELS[r]) for r in ROLES])


class RecoveryForm(FlaskForm):
    reason = TextAreaField(
        _l("Motivo (lo leerá la supervisora que decide)"),
        validators=[Length(max=REASON_MAX)],
    )


@bp.before_request
def only_administrators() -> None:
    if not current_user.is_authenticated or not may_manage_users(current_user):
        abort(403)


@bp.route("/users", methods=["GET", "POST"])
def users() -> str | tuple[str, int]:
    form = UserForm()
    form.institution.choices = directory.institution_choices(db.session)
    created = None
    status = 200
    if form.validate_on_submit():
        try:
            created = accounts.create_account(
                db.session,
                get_keyring(),
                web_caller(),
                username=form.username.data or "",
                institution_code=form.institution.data or "",
                role=form.role.data or "",
                display_name=form.display_name.data or "",
            )
        except (InvalidInput, Conflict) as error:
            discard_changes()
            show_errors(form, error.fields or {"username": [error.message]}, {})
            status = 422
    listing = accounts.list_users(db.session, web_caller())
    return render_template(
        "admin/users.html", form=form, users=listing, created=created, role_labels=ROLE_LABELS
    ), status


@bp.post("/users/<int:user_id>")
def update_user(user_id: int) -> Response:
    try:
        user = accounts.update_account(
            db.session,
            get_keyring().audit_key,
            web_caller(),
            user_id,
            request.form.get("action", ""),
            request.form.get("role", ""),
        )
    except InvalidInput as error:
        discard_changes()
        if "lead" in error.fields:
            flash(_("Solo quien atiende casos puede coordinar su institución."), "error")
        else:  # says which role and which kind of institution, by their labels
            flash(error.fields.get("role", [error.message])[0], "error")
        return redirect(url_for("admin.users"))
    if request.form.get("action") in ("make_lead", "remove_lead"):
        flash(_("Usuario actualizado: coordinación de casos cambiada."), "info")
        return redirect(url_for("admin.users"))
    flash(_("Usuario actualizado. Sus sesiones abiertas se cerraron."), "info")
    if user.active and user.awaiting_approval:
        flash(_("Con su nuevo rol, la cuenta espera la aprobación de una supervisora."), "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/end-sessions")
def end_every_session() -> Response:
    try:
        count = accounts.end_every_session(
            db.session, get_keyring().audit_key, web_caller(), request.form.get("password")
        )
    except InvalidInput:
        discard_changes()
        flash(_("La contraseña no es correcta. No se cerró nada."), "error")
        return redirect(url_for("admin.users"))
    sign_out()
    flash(
        _("Se cerraron las sesiones de todas las cuentas (%(n)s), también la suya.", n=count),
        "info",
    )
    return redirect(url_for("auth.login"))


def _user_page(
    user_id: int,
    form: RecoveryForm,
    status: int = 200,
    issued: OneTimePassword | None = None,
    error: str | None = None,
) -> tuple[str, int]:
    page = recovery.account_page(db.session, web_caller(), user_id)
    return render_template(
        "admin/user.html",
        page=page,
        form=form,
        issued=issued,
        error=error,
        role_labels=ROLE_LABELS,
    ), status


@bp.get("/users/<int:user_id>")
def user_page(user_id: int) -> tuple[str, int]:
    return _user_page(user_id, RecoveryForm())


@bp.post("/users/<int:user_id>/recovery")
def start_recovery(user_id: int) -> Response | tuple[str, int]:
    """The administrator asks for a recovery; a supervisor decides on /audit."""
    form = RecoveryForm()
    if not form.validate_on_submit():
        return _user_page(user_id, form, 422)
    try:
        recovery.start_recovery(
            db.session, get_keyring().audit_key, web_caller(), user_id, form.reason.data or ""
        )
    except (InvalidInput, Conflict, Forbidden) as error:
        discard_changes()
        show_errors(form, error.fields or {"reason": [error.message]}, {})
        return _user_page(user_id, form, error.status)
    flash(_("Recuperación pedida. Una supervisora debe aprobarla."), "info")
    return redirect(url_for("admin.user_page", user_id=user_id))


@bp.post("/users/<int:user_id>/password")
def issue_password(user_id: int) -> tuple[str, int]:
    """A new one-time password, shown once on the page (never in a flash message: the
    session cookie is readable by whoever holds the browser)."""
    try:
        issued = recovery.issue_one_time_password(
            db.session, get_keyring().audit_key, web_caller(), user_id
        )
    except (Conflict, Forbidden) as error:
        discard_changes()
        return _user_page(user_id, RecoveryForm(formdata=None), error.status, error=error.message)
    return _user_page(user_id, RecoveryForm(formdata=None), issued=issued)


@bp.get("/institutions")
def institutions() -> str:
    listing = directory.all_institutions(db.session)
    return render_template("admin/institutions.html", institutions=listing)


def _service_checks() -> list[tuple[str, str]]:
    return [(code, _(name)) for code, name in catalogues.all_service_choices(db.session)]


Page = Response | tuple[str, int]


@bp.route("/institutions/new", methods=["GET", "POST"])
def new_institution() -> Page:
    form = NewInstitutionForm()
    form.municipality.choices = [("", "—"), *directory.municipality_choices(db.session)]
    form.services.choices = _service_checks()
    if not form.is_submitted():
        return render_template("admin/new_institution.html", form=form, problems=[]), 200
    new = catalogues.NewInstitution(
        code=form.code.data or "",
        name=form.name.data or "",
        kind=form.kind.data or "",
        municipality=form.municipality.data or "",
        address=form.address.data,
        phone=form.phone.data,
        hours=form.hours.data,
        service_codes=list(form.services.data or []),
    )
    made, problems = _attempt(form, lambda: catalogues.create_institution(*_writer(), new))
    if made is None:
        return render_template("admin/new_institution.html", form=form, problems=problems), 422
    flash(_("Institución creada: %(code)s.", code=made.code), "info")
    return redirect(url_for("admin.institutions"))


@bp.route("/institutions/<int:institution_id>", methods=["GET", "POST"])
def edit_institution(institution_id: int) -> Page:
    institution = directory.get_institution(db.session, institution_id)
    form = InstitutionForm(obj=None if request.method == "POST" else institution)
    form.services.choices = _service_checks()
    if not form.is_submitted():
        form.services.data = [s.code for s in institution.services]
        return _institution_page(form, institution, [], 200)
    change = catalogues.InstitutionChange(
        name=form.name.data or "",
        address=form.address.data,
        phone=form.phone.data,
        hours=form.hours.data,
        active=bool(form.active.data),
        service_codes=list(form.services.data or []),
    )
    done, problems = _attempt(
        form, lambda: catalogues.change_institution(*_writer(), institution_id, change)
    )
    if done is None:
        return _institution_page(form, institution, problems, 422)
    flash(_("Institución actualizada."), "info")
    return redirect(url_for("admin.institutions"))


def _institution_page(
    form: InstitutionForm, institution: Institution, problems: list[str], status: int
) -> tuple[str, int]:
    page = render_template(
        "admin/institution.html", form=form, institution=institution, problems=problems
    )
    return page, status


def _writer() -> tuple[DbSession, bytes, Caller]:
    return db.session, get_keyring().audit_key, web_caller()


def _attempt(form: FlaskForm, action: Callable[[], T]) -> tuple[T | None, list[str]]:
    """The service's answer, or None with its messages beside their fields; a form
    sent without its CSRF token changes nothing."""
    if not form.validate():
        return None, []
    return attempt(form, {}, action)


# ---- services and measure types -------------------------------------------------------


@bp.route("/services", methods=["GET", "POST"])
def services() -> Page:
    form = NewEntryForm()
    if form.is_submitted():
        entry = _new_entry(form)
        made, problems = _attempt(form, lambda: catalogues.create_service(*_writer(), entry))
        if made is not None:
            flash(_("Servicio creado: %(code)s.", code=made.code), "info")
            return redirect(url_for("admin.services"))
        return _services_page(form, problems, 422)
    return _services_page(form, [], 200)


def _services_page(form: NewEntryForm, problems: list[str], status: int) -> tuple[str, int]:
    rows = catalogues.services_with_counts(db.session)
    return render_template("admin/services.html", form=form, rows=rows, problems=problems), status


@bp.route("/services/<service_code>", methods=["GET", "POST"])
def edit_service(service_code: str) -> Page:
    service = catalogues.get_service(db.session, service_code)
    form = EntryForm(obj=None if request.method == "POST" else service)
    if form.is_submitted():
        entry = _entry(form)
        done, problems = _attempt(
            form, lambda: catalogues.change_service(*_writer(), service_code, entry)
        )
        if done is not None:
            flash(_("Servicio actualizado."), "info")
            return redirect(url_for("admin.services"))
        return _entry_page(form, service, "services", problems, 422)
    return _entry_page(form, service, "services", [], 200)


@bp.route("/measures", methods=["GET", "POST"])
def measures() -> Page:
    form = NewEntryForm()
    if form.is_submitted():
        entry = _new_entry(form)
        made, problems = _attempt(form, lambda: catalogues.create_measure_type(*_writer(), entry))
        if made is not None:
            flash(_("Medida creada: %(code)s.", code=made.code), "info")
            return redirect(url_for("admin.measures"))
        return _measures_page(form, problems, 422)
    return _measures_page(form, [], 200)


def _measures_page(form: NewEntryForm, problems: list[str], status: int) -> tuple[str, int]:
    rows = catalogues.all_measure_types(db.session)
    return render_template("admin/measures.html", form=form, rows=rows, problems=problems), status


@bp.route("/measures/<measure_code>", methods=["GET", "POST"])
def edit_measure(measure_code: str) -> Page:
    measure = catalogues.get_measure_type(db.session, measure_code)
    form = EntryForm(obj=None if request.method == "POST" else measure)
    if form.is_submitted():
        entry = _entry(form)
        done, problems = _attempt(
            form, lambda: catalogues.change_measure_type(*_writer(), measure_code, entry)
        )
        if done is not None:
            flash(_("Medida actualizada."), "info")
            return redirect(url_for("admin.measures"))
        return _entry_page(form, measure, "measures", problems, 422)
    return _entry_page(form, measure, "measures", [], 200)


def _new_entry(form: NewEntryForm) -> catalogues.Entry:
    return catalogues.Entry(
        code=form.code.data or "", name_es=form.name_es.data or "", name_en=form.name_en.data or ""
    )


def _entry(form: EntryForm) -> catalogues.Entry:
    return catalogues.Entry(
        code="",
        name_es=form.name_es.data or "",
        name_en=form.name_en.data or "",
        active=bool(form.active.data),
    )


def _entry_page(
    form: EntryForm, row: Any, listing: str, problems: list[str], status: int
) -> tuple[str, int]:
    page = render_template(
        "admin/entry.html", form=form, row=row, listing=listing, problems=problems
    )
    return page, status


# ---- the territory -------------------------------------------------------------------


@bp.get("/territory")
def territory() -> str:
    return render_template("admin/territory.html", tree=catalogues.territory_tree(db.session))


@bp.route("/territory/<district_code>", methods=["GET", "POST"])
def edit_district(district_code: str) -> Page:
    district = catalogues.get_district(db.session, district_code)
    form = AliasesForm()
    if form.is_submitted():
        names = (form.aliases.data or "").splitlines()
        done, problems = _attempt(
            form,
            lambda: catalogues.change_district_aliases(*_writer(), district_code, names),
        )
        if done is not None:
            flash(_("Distrito actualizado."), "info")
            return redirect(url_for("admin.territory"))
        return _district_page(form, district, problems, 422)
    form.aliases.data = "\n".join((district.aliases or "").split(ALIAS_SEPARATOR))
    return _district_page(form, district, [], 200)


def _district_page(
    form: AliasesForm, district: District, problems: list[str], status: int
) -> tuple[str, int]:
    page = render_template("admin/district.html", form=form, district=district, problems=problems)
    return page, status
