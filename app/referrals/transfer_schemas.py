"""API schemas of the transfers of the lead institution."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from app.referrals.policy import TRANSFER_MOVES, TRANSFER_REASONS, TRANSFER_STATUSES

NOTE_MAX = 5000


class TransferIn(Schema):
    class Meta:
        unknown = EXCLUDE

    to_institution = fields.Integer(
        required=True, strict=False, metadata={"description": "an id from /institutions"}
    )
    reason = fields.String(required=True, validate=validate.OneOf(TRANSFER_REASONS))
    note = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=NOTE_MAX),
        metadata={"description": "sealed with the case key; read by the lead"},
    )


class TransferQueryIn(Schema):
    class Meta:
        unknown = EXCLUDE

    box = fields.String(load_default="incoming", validate=validate.OneOf(["incoming", "outgoing"]))


class TransferTransitionIn(Schema):
    class Meta:
        unknown = EXCLUDE

    action = fields.String(required=True, validate=validate.OneOf(list(TRANSFER_MOVES)))
    reason = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=NOTE_MAX),
        metadata={"description": "decline: why (required)"},
    )
    version = fields.Integer(load_default=None, allow_none=True)


class TransferInstitutionOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class TransferOut(Schema):
    id = fields.String()
    case_id = fields.String()
    case_number = fields.String()
    from_institution = fields.Nested(TransferInstitutionOut)
    to_institution = fields.Nested(TransferInstitutionOut)
    reason = fields.String(metadata={"description": ", ".join(TRANSFER_REASONS)})
    status = fields.String(metadata={"description": ", ".join(TRANSFER_STATUSES)})
    requested_at = fields.String()
    answered_at = fields.String(allow_none=True)
    version = fields.Integer()
    note = fields.String(
        allow_none=True, metadata={"description": "null where this side reads codes only"}
    )
    decline_reason = fields.String(allow_none=True)


class TransferListOut(Schema):
    items = fields.List(fields.Nested(TransferOut))
