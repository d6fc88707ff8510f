"""Administrators manage users and institutions. They never see case content."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response
from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget

from app.auth import service as accounts
from app.auth.models import ROLES, User
from app.auth.policy import may_manage_users
from app.core.errors import DomainError
from app.crypto.service import get_keyring
from app.directory.models import Institution, Service
from app.extensions import db
from app.web.formtools import Select, audit_web, show_errors

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROLE_LABELS = {
    "pnc_agent": _l("Agente PNC"),
    "health_staff": _l("Personal de salud"),
    "womens_office": _l("Unidad de la Mujer"),
    "supervisor": _l("Supervisión"),
    "admin": _l("Administración"),
}


class UserForm(FlaskForm):
    username = StringField(_l("Usuario"))
    display_name = StringField(_l("Nombre para mostrar"))
    institution = Select(_l("Institución"), choices=[])
    role = Select(_l("Rol"), choices=[(r, ROLE_LABELS[r]) for r in ROLES])


class InstitutionForm(FlaskForm):
    address = StringField(_l("Dirección"))
    phone = StringField(_l("Teléfono"))
    hours = StringField(_l("Horario"))
    active = BooleanField(_l("Activa"))
    services = SelectMultipleField(
        _l("Servicios que presta"),
        choices=[],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


@bp.before_request
def only_administrators() -> None:
    if not current_user.is_authenticated or not may_manage_users(current_user):
        abort(403)


def _institution_choices() -> list[tuple[str, str]]:
    rows = db.session.execute(select(Institution.code, Institution.name).order_by(Institution.code))
    return [(code, f"{code} · {name}") for code, name in rows]


@bp.route("/users", methods=["GET", "POST"])
def users() -> str | tuple[str, int]:
    form = UserForm()
    form.institution.choices = _institution_choices()
    created = None
    status = 200
    if form.validate_on_submit():
        try:
            created = accounts.create_user(
                db.session,
                get_keyring(),
                username=form.username.data or "",
                institution_code=form.institution.data or "",
                role=form.role.data or "",
                display_name=form.display_name.data or "",
                password=None,
                requested_by=current_user._get_current_object(),
            )
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error.fields or {"username": [error.message]}, {})
            status = 422
        else:
            audit_web(
                "user_create",
                object_type="user",
                object_id=created.user.id,
                detail=f"role={created.user.role}"
                + (";awaiting_approval" if created.user.awaiting_approval else ""),
            )
            db.session.commit()
    listing = db.session.execute(select(User).order_by(User.username)).scalars().all()
    return render_template(
        "admin/users.html", form=form, users=listing, created=created, role_labels=ROLE_LABELS
    ), status


@bp.post("/users/<int:user_id>")
def update_user(user_id: int) -> Response:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    action = request.form.get("action")
    try:
        if action == "disable":
            accounts.disable_user(user)
        elif action == "role":
            accounts.set_role(
                db.session,
                user,
                request.form.get("role", ""),
                requested_by=current_user._get_current_object(),
            )
        elif action == "end_sessions":
            accounts.end_all_sessions(user)
        else:
            abort(400)
    except DomainError:
        db.session.rollback()
        flash(_("Ese rol no corresponde a la institución del usuario."), "error")
        return redirect(url_for("admin.users"))
    audit_web("user_update", object_type="user", object_id=user.id, detail=f"{action}")
    db.session.commit()
    flash(_("Usuario actualizado. Sus sesiones abiertas se cerraron."), "info")
    if user.active and user.awaiting_approval:
        flash(_("Con su nuevo rol, la cuenta espera la aprobación de una supervisora."), "info")
    return redirect(url_for("admin.users"))


@bp.get("/institutions")
def institutions() -> str:
    listing = (
        db.session.execute(
            select(Institution)
            .options(selectinload(Institution.services))
            .order_by(Institution.code)
        )
        .scalars()
        .all()
    )
    return render_template("admin/institutions.html", institutions=listing)


@bp.route("/institutions/<int:institution_id>", methods=["GET", "POST"])
def edit_institution(institution_id: int) -> Response | str:
    institution = db.session.get(Institution, institution_id)
    if institution is None:
        abort(404)
    services = db.session.execute(select(Service).order_by(Service.name_es)).scalars().all()
    form = InstitutionForm(obj=None if request.method == "POST" else institution)
    form.services.choices = [(s.code, s.name_es) for s in services]
    if request.method == "GET":
        form.services.data = [s.code for s in institution.services]
    if form.validate_on_submit():
        institution.address = form.address.data or None
        institution.phone = form.phone.data or None
        institution.hours = form.hours.data or None
        institution.active = bool(form.active.data)
        institution.services = [s for s in services if s.code in (form.services.data or [])]
        audit_web("institution_update", object_type="institution", object_id=institution.id)
        db.session.commit()
        flash(_("Institución actualizada."), "info")
        return redirect(url_for("admin.institutions"))
    return render_template("admin/institution.html", form=form, institution=institution)
