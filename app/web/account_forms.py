"""Web forms of the login and account pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from app.auth.passwords import MAX_LENGTH, MIN_LENGTH


class LoginForm(FlaskForm):
    username = StringField(
        _l("Usuario"),
        validators=[DataRequired(), Length(max=60)],
        render_kw={"autocomplete": "username", "autofocus": True},
    )
    password = PasswordField(
        _l("Contraseña"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    otp = StringField(
        _l("Código de verificación (6 dígitos)"),
        validators=[Optional(), Length(max=10)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Contraseña actual"),
        validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("Nueva contraseña"),
        validators=[DataRequired(), Length(min=MIN_LENGTH, max=MAX_LENGTH)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repita la nueva contraseña"),
        validators=[DataRequired(), EqualTo("new_password", _l("Las contraseñas no coinciden."))],
        render_kw={"autocomplete": "new-password"},
    )


class EnrolForm(FlaskForm):
    otp = StringField(
        _l("Código que muestra la aplicación"),
        validators=[DataRequired(), Regexp(r"^\s*\d{6}\s*$", message=_l("Seis dígitos."))],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
