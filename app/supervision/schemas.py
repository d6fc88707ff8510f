"""API schemas of the audit log, its reports and break-glass."""

from __future__ import annotations

from datetime import UTC

from marshmallow import EXCLUDE, Schema, fields, validate

from app.core.i18n import N_, later


class AuditQueryIn(Schema):
    class Meta:
        unknown = EXCLUDE

    case_id = fields.UUID()
    case_number = fields.String(
        validate=validate.Regexp(
            r"^\s*[A-Za-z0-9]{1,8}-\d{4}-\d{6,}\s*$",
            error="Número de expediente no válido (por ejemplo SON-2026-000123).",
        )
    )
    username = fields.String(validate=validate.Length(max=60))
    # A bare date or time without an offset is read as UTC, like every stored time.
    since = fields.AwareDateTime(default_timezone=UTC)
    action = fields.String(validate=validate.Length(max=40))
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class SinceIn(Schema):
    class Meta:
        unknown = EXCLUDE

    since = fields.AwareDateTime(default_timezone=UTC)


class AuditEventOut(Schema):
    id = fields.Integer()
    at = fields.String()
    username = fields.String(allow_none=True)
    institution = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    action = fields.String()
    object_type = fields.String(allow_none=True)
    object_id = fields.String(allow_none=True)
    case_id = fields.String(allow_none=True)
    case_number = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)


class AuditListOut(Schema):
    items = fields.List(fields.Nested(AuditEventOut))


class BreakGlassIn(Schema):
    class Meta:
        unknown = EXCLUDE

    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    password = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class BreakGlassOut(Schema):
    id = fields.Integer()
    case_id = fields.String()
    username = fields.String()
    reason = fields.String(allow_none=True)
    started_at = fields.String()
    expires_at = fields.String()
    reviewed_by = fields.String(allow_none=True)
    reviewed_at = fields.String(allow_none=True)
    justified = fields.Boolean(allow_none=True)
    review_note = fields.String(allow_none=True)


class BreakGlassListOut(Schema):
    items = fields.List(fields.Nested(BreakGlassOut))


class ReviewIn(Schema):
    class Meta:
        unknown = EXCLUDE

    justified = fields.Boolean(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class ApprovalIn(Schema):
    class Meta:
        unknown = EXCLUDE

    approve = fields.Boolean(
        required=True,
        error_messages={
            "required": later(N_("Indique si aprueba la cuenta: true o false.")),
            "null": later(N_("Indique si aprueba la cuenta: true o false.")),
            "invalid": later(N_("Indique si aprueba la cuenta: true o false.")),
        },
    )


class AccountOut(Schema):
    """An account waiting for (or just given) a supervisor's decision."""

    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    institution = fields.String()
    role = fields.String()
    created_at = fields.String()
    requested_by = fields.String(allow_none=True)
    approved_by = fields.String(allow_none=True)
    approved_at = fields.String(allow_none=True)
    active = fields.Boolean()


class AccountListOut(Schema):
    items = fields.List(fields.Nested(AccountOut))


class RecoveryOut(Schema):
    """An account recovery an administrator asked for, and a supervisor's decision."""

    id = fields.Integer()
    user_id = fields.Integer()
    username = fields.String()
    institution = fields.String()
    reason = fields.String()
    requested_by = fields.String(allow_none=True)
    requested_at = fields.String()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.String(allow_none=True)
    approved = fields.Boolean(allow_none=True)


class RecoveryListOut(Schema):
    items = fields.List(fields.Nested(RecoveryOut))


class AccessPerDayOut(Schema):
    username = fields.String(allow_none=True)
    institution = fields.String(allow_none=True)
    day = fields.String()
    reads = fields.Integer()


class FailedLoginOut(Schema):
    username = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)
    failures = fields.Integer()
    last = fields.String()


class AuditReportsOut(Schema):
    since = fields.String()
    accesses_per_user_per_day = fields.List(fields.Nested(AccessPerDayOut))
    reads_outside_office_hours = fields.List(fields.Nested(AuditEventOut))
    reads_by_non_parties = fields.List(fields.Nested(AuditEventOut))
    failed_logins = fields.List(fields.Nested(FailedLoginOut))
    break_glass = fields.List(fields.Nested(BreakGlassOut))
