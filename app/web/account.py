"""Login, logout, first-login setup (password change and TOTP enrolment)."""

from __future__ import annotations

from urllib.parse import urlsplit

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
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from app.auth import service as accounts
from app.auth.login import TooManyAttempts, log_in, record_login_failure
from app.auth.sessions import end_session, lift_restriction, start_session
from app.auth.throttle_store import login_throttle
from app.auth.totp import provisioning_uri
from app.core.errors import InvalidInput
from app.crypto.service import get_keyring
from app.extensions import db, limiter
from app.web.account_forms import ChangePasswordForm, EnrolForm, LoginForm
from app.web.formtools import audit_web
from app.web.login import clear_session

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would help a phishing page."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("main.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def login() -> Response | str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    ring, throttle, ip = get_keyring(), login_throttle(), request.remote_addr or "-"
    try:
        outcome = log_in(
            db.session,
            ring,
            throttle,
            username=form.username.data or "",
            password=form.password.data or "",
            otp=form.otp.data,
            ip=ip,
            require_mfa=current_app.config["RUTA_REQUIRE_MFA"],
            channel="web",
            allow_setup=True,
        )
    except (accounts.AuthenticationFailed, TooManyAttempts) as error:
        db.session.rollback()
        waiting = isinstance(error, accounts.AwaitingApproval)
        record_login_failure(
            db.session,
            ring,
            throttle,
            form.username.data or "",
            ip,
            "web",
            throttled=isinstance(error, TooManyAttempts),
            awaiting_approval=waiting,
        )
        db.session.commit()
        if isinstance(error, TooManyAttempts):
            message = _("Demasiados intentos fallidos. Espere %(s)s segundos.", s=error.retry_after)
            page = render_template("auth/login.html", form=form, error=message)
            return page, 429, {"Retry-After": str(error.retry_after)}
        if waiting:  # said only to whoever gave the right password (and code)
            message = _("Su cuenta espera la aprobación de una supervisora.")
            return render_template("auth/login.html", form=form, error=message), 403
        message = _("Usuario, contraseña o código incorrectos.")
        return render_template("auth/login.html", form=form, error=message), 401
    user = outcome.user
    token = start_session(db.session, user, ip, restricted=outcome.needs_setup)
    db.session.commit()
    clear_session()  # a fresh session at login: nothing from before survives but the language
    user.session_token = token
    login_user(user)
    if outcome.needs_setup:
        return redirect(
            url_for("auth.change_password" if user.must_change_password else "auth.enrol")
        )
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated and current_user.session_token:
        end_session(db.session, current_user.session_token)
        audit_web("logout", object_type="web")
        db.session.commit()
    logout_user()
    clear_session()
    flash(_("Sesión cerrada."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password() -> Response | str:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            accounts.change_password(
                user, form.current_password.data or "", form.new_password.data or ""
            )
        except InvalidInput as error:
            db.session.rollback()
            for field, messages in error.fields.items():
                getattr(form, field).errors = list(messages)
            return render_template("auth/password.html", form=form)
        # The stamp changed: every other session ends; this one continues renewed.
        token = start_session(
            db.session, user, request.remote_addr, restricted=_setup_pending(user)
        )
        db.session.commit()
        clear_session()
        user.session_token = token
        login_user(user)
        flash(_("Contraseña cambiada."), "info")
        return redirect(
            url_for("auth.enrol") if _setup_pending(user) else url_for("main.dashboard")
        )
    return render_template("auth/password.html", form=form)


def _setup_pending(user: accounts.User) -> bool:
    return user.must_change_password or (
        current_app.config["RUTA_REQUIRE_MFA"] and not user.totp_enrolled
    )


@bp.route("/account/totp", methods=["GET", "POST"])
def enrol() -> Response | str:
    user = current_user._get_current_object()
    if user.totp_enrolled:
        return redirect(url_for("main.dashboard"))
    ring = get_keyring()
    secret = accounts.begin_totp_enrolment(db.session, ring, user)
    db.session.commit()
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            accounts.confirm_totp_enrolment(db.session, ring, user, form.otp.data or "")
        except InvalidInput:
            db.session.rollback()
            form.otp.errors = [_("El código no es correcto. Pruebe con el siguiente.")]
        else:
            if not user.must_change_password:
                lift_restriction(user.web_session)
            db.session.commit()
            flash(_("Verificación en dos pasos activada."), "info")
            return redirect(url_for("main.dashboard"))
    uri = provisioning_uri(secret, user.username)
    qr_svg = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff")
    return render_template("auth/enrol.html", form=form, qr_svg=qr_svg, secret=secret)
