"""Administrators manage users and (`admin_catalogue.py`, on this blueprint) the network's
catalogues. They never see case content."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField, TextAreaField
from wtforms.validators import Length

from app.auth import accounts, recovery
from app.auth.labels import ROLE_LABELS
from app.auth.models import ROLES
from app.auth.policy import may_manage_users
from app.auth.recovery import REASON_MAX, OneTimePassword
from app.core.errors import Conflict, Forbidden, InvalidInput
from app.core.transaction import discard_changes
from app.crypto.service import get_keyring
from app.directory import service as directory
from app.extensions import db
from app.web.formtools import Select, show_errors, web_caller
from app.web.login import sign_out

bp = Blueprint("admin", __name__, url_prefix="/admin")


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
