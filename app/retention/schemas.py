"""In and out of legal holds and erasure requests: numbers, dates and codes, never her
name; a hold's reason only to the supervisor who may lift it."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.cases.schemas import InputSchema
from app.retention.policy import LEGAL_BASES


class LegalHoldIn(InputSchema):
    hold = fields.Boolean(
        required=True, metadata={"description": "true sets the hold, false lifts it"}
    )
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class LegalHoldOut(Schema):
    case_id = fields.String()
    number = fields.String()
    legal_hold = fields.Boolean()
    since = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class ErasureIn(InputSchema):
    legal_basis = fields.String(
        required=True,
        validate=validate.OneOf(list(LEGAL_BASES)),
        metadata={"description": ", ".join(LEGAL_BASES)},
    )
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ErasureReviewIn(InputSchema):
    approve = fields.Boolean(required=True)


class ErasureOut(Schema):
    id = fields.String()
    case_id = fields.String()
    number = fields.String()
    status = fields.String(metadata={"description": "pending, approved, rejected, done"})
    legal_basis = fields.String()
    requested_at = fields.String()
    requested_by_user_id = fields.Integer()
    decided_at = fields.String(allow_none=True)
    carried_out_at = fields.String(allow_none=True)


class ErasureListOut(Schema):
    items = fields.List(fields.Nested(ErasureOut))
