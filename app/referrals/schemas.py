"""API schemas of referrals and notifications."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from app.referrals.service import MOVES, URGENCY_DAYS

STATUSES = ("sent", "accepted", "in_progress", "completed", "declined", "cancelled")


class ReferralIn(Schema):
    class Meta:
        unknown = EXCLUDE

    to_institution = fields.Integer(required=True, strict=False)
    service = fields.String(required=True, validate=validate.Length(min=1, max=40))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000))
    urgency = fields.String(load_default="routine", validate=validate.OneOf(list(URGENCY_DAYS)))
    consent = fields.Boolean(load_default=False)


class TransitionIn(Schema):
    class Meta:
        unknown = EXCLUDE

    action = fields.String(required=True, validate=validate.OneOf(list(MOVES)))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000))
    version = fields.Integer(load_default=None, allow_none=True)


class ReferralQueryIn(Schema):
    class Meta:
        unknown = EXCLUDE

    box = fields.String(load_default="incoming", validate=validate.OneOf(["incoming", "outgoing"]))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    overdue = fields.Boolean(load_default=False)


class ReferralOut(Schema):
    id = fields.String()
    case_id = fields.String()
    case_number = fields.String()
    status = fields.String()
    from_institution = fields.String()
    to_institution = fields.String()
    to_institution_id = fields.Integer()
    service = fields.String()
    urgency = fields.String()
    due_on = fields.String()
    overdue = fields.Boolean()
    text_withheld = fields.Boolean(
        metadata={"description": "true for a former party: codes and dates only"}
    )
    consent = fields.Boolean()
    mandatory_report = fields.Boolean()
    tracked_by_sender = fields.Boolean()
    reason = fields.String(allow_none=True)
    decline_reason = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    created_at = fields.String()
    version = fields.Integer()


class ReferralCountsOut(Schema):
    to_answer = fields.Integer()
    in_progress = fields.Integer()
    overdue_incoming = fields.Integer()
    overdue_outgoing = fields.Integer()


class ReferralListOut(Schema):
    items = fields.List(fields.Nested(ReferralOut))
    counts = fields.Nested(ReferralCountsOut)


class NotificationOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    label = fields.String()
    case_id = fields.String(allow_none=True)
    reference = fields.String(allow_none=True)
    created_at = fields.String()
    read = fields.Boolean()


class NotificationListOut(Schema):
    items = fields.List(fields.Nested(NotificationOut))
