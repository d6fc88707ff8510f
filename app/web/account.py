"""Login, logout, first-login setup (password change and TOTP enrolment), and "Mis
sesiones": the user's live logins, each of which she may end."""

from __future__ import annotations

import segno
from flask import (
    Blueprint,
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

from app.auth.login import (
    TooManyAttempts,
    change_own_password,
    enrol_totp,
    log_in_to_pages,
    record_login_failure,
)
from app.auth.models import User
from app.auth.service import AuthenticationFailed, AwaitingApproval, OneTimePasswordExpired
from app.auth.sessions import Lifetimes, end_my_session, log_out, my_logins, revoke_my_token
from app.auth.throttle_store import login_throttle
from app.auth.totp import provisioning_uri
from app.core.errors import InvalidInput
from app.core.transaction import discard_changes, record_despite_failure
from app.crypto.service import get_keyring
from app.extensions import db, limiter
from app.web.account_forms import ChangePasswordForm, EnrolForm, LoginForm
from app.web.formtools import show_errors, web_caller
from app.web.login import device_proof, remember_device, safe_next, sign_in, sign_out

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def login() -> Response | str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    ring, throttle, ip = get_keyring(), login_throttle(), request.remote_addr or "-"
    username, device = form.username.data or "", device_proof()
    try:
        signed_in = log_in_to_pages(
            db.session,
            ring,
            throttle,
            username=username,
            password=form.password.data or "",
            otp=form.otp.data,
            ip=ip,
            require_mfa=current_app.config["RUTA_REQUIRE_MFA"],
            device=device,
            max_sessions=current_app.config["RUTA_MAX_SESSIONS"],
        )
    except (AuthenticationFailed, TooManyAttempts) as error:
        failure = error  # the except name is unbound for closures
        record_despite_failure(
            lambda: record_login_failure(
                db.session, ring, throttle, username, ip, "web", failure, device
            )
        )
        return _refused(form, failure)
    sign_in(signed_in.user, signed_in.token)
    if signed_in.needs_setup:
        return redirect(_setup_page(signed_in.user))
    return remember_device(redirect(safe_next(request.args.get("next"))), signed_in.device_cookie)


def _refused(
    form: LoginForm, error: Exception
) -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    if isinstance(error, TooManyAttempts):
        message = _("Demasiados intentos fallidos. Espere %(s)s segundos.", s=error.retry_after)
        page = render_template("auth/login.html", form=form, error=message)
        return page, 429, {"Retry-After": str(error.retry_after)}
    if isinstance(error, AwaitingApproval):  # said only to whoever gave the right password
        message = _("Su cuenta espera la aprobación de una supervisora.")
        return render_template("auth/login.html", form=form, error=message), 403
    if isinstance(error, OneTimePasswordExpired):  # likewise
        message = _("Su contraseña temporal venció; pida una nueva al administrador.")
        return render_template("auth/login.html", form=form, error=message), 401
    message = _("Usuario, contraseña o código incorrectos.")
    return render_template("auth/login.html", form=form, error=message), 401


def _setup_page(user: User) -> str:
    return url_for("auth.change_password" if user.must_change_password else "auth.enrol")


@bp.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated and current_user.session_token:
        log_out(db.session, get_keyring().audit_key, web_caller(), current_user.session_token)
    sign_out()
    flash(_("Sesión cerrada."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password() -> Response | str:
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/password.html", form=form)
    try:
        changed = change_own_password(
            db.session,
            get_keyring().audit_key,
            web_caller(),
            form.current_password.data or "",
            form.new_password.data or "",
            current_app.config["RUTA_REQUIRE_MFA"],
        )
    except InvalidInput as error:
        discard_changes()
        show_errors(form, error.fields, {"password": "new_password"})
        return render_template("auth/password.html", form=form)
    sign_in(current_user._get_current_object(), changed.token)
    flash(_("Contraseña cambiada."), "info")
    return redirect(url_for("auth.enrol") if changed.setup_pending else url_for("main.dashboard"))


@bp.route("/account/totp", methods=["GET", "POST"])
def enrol() -> Response | str:
    if current_user.totp_enrolled:
        return redirect(url_for("main.dashboard"))
    form = EnrolForm()
    submitted = form.validate_on_submit()
    code = (form.otp.data or "") if submitted else None
    enrolment = enrol_totp(db.session, get_keyring(), web_caller(), code)
    if enrolment.enrolled:
        flash(_("Verificación en dos pasos activada."), "info")
        return redirect(url_for("main.dashboard"))
    if submitted:
        form.otp.errors = [_("El código no es correcto. Pruebe con el siguiente.")]
    uri = provisioning_uri(enrolment.secret, current_user.username)
    qr_svg = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff")
    return render_template("auth/enrol.html", form=form, qr_svg=qr_svg, secret=enrolment.secret)


def _lifetimes() -> Lifetimes:
    config = current_app.config
    return Lifetimes(
        config["RUTA_IDLE_TIMEOUT"], config["RUTA_SESSION_LIFETIME"], config["RUTA_TOKEN_IDLE"]
    )


@bp.get("/account/sessions")
def sessions() -> str:
    return _sessions_page()


def _sessions_page(error: str | None = None) -> str:
    here = current_user.web_session.id
    logins = my_logins(db.session, web_caller(), _lifetimes(), here)
    return render_template("auth/sessions.html", logins=logins, error=error)


def _wrong_password() -> tuple[str, int]:
    discard_changes()
    return _sessions_page(_("La contraseña no es correcta. No se cerró nada.")), 422


@bp.post("/account/sessions/<int:session_id>/end")
def end_session(session_id: int) -> Response | tuple[str, int]:
    here = current_user.web_session.id
    try:
        ended = end_my_session(
            db.session,
            get_keyring().audit_key,
            web_caller(),
            session_id,
            request.form.get("password"),
            here,
        )
    except InvalidInput:
        return _wrong_password()
    if ended.id == here:
        sign_out()
        flash(_("Sesión cerrada."), "info")
        return redirect(url_for("auth.login"))
    flash(_("Sesión cerrada en el otro dispositivo."), "info")
    return redirect(url_for("auth.sessions"))


@bp.post("/account/tokens/<int:token_id>/revoke")
def revoke(token_id: int) -> Response | tuple[str, int]:
    try:
        revoke_my_token(
            db.session,
            get_keyring().audit_key,
            web_caller(),
            token_id,
            request.form.get("password"),
        )
    except InvalidInput:
        return _wrong_password()
    flash(_("Acceso de la API revocado."), "info")
    return redirect(url_for("auth.sessions"))
