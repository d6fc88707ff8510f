"""API schemas for what is added to a case after intake."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates

from app.cases.care import CHANNELS, CLOSE_REASONS, FOLLOW_UP_OUTCOMES, NOTE_KINDS
from app.cases.complaints import MEASURE_STATUSES
from app.cases.risk import QUESTION_KEYS
from app.cases.schemas import ConsentIn, InputSchema
from app.cases.vocab import CASE_STATUSES
from app.core.time import local_today


def _one_of(values: tuple[str, ...] | list[str] | dict[str, str]) -> validate.OneOf:
    return validate.OneOf(
        list(values), error="Código desconocido: {input}. Valores válidos: {choices}."
    )


class NoteIn(InputSchema):
    kind = fields.String(required=True, validate=_one_of(NOTE_KINDS))
    given_on = fields.Date(load_default=local_today)
    text = fields.String(required=True, validate=validate.Length(min=1, max=20000))
    confidential = fields.Boolean(load_default=False)


class FollowUpIn(InputSchema):
    due_on = fields.Date(required=True)
    channel = fields.String(required=True, validate=_one_of(CHANNELS))


class FollowUpOutcomeIn(InputSchema):
    outcome = fields.String(required=True, validate=_one_of(FOLLOW_UP_OUTCOMES))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000))
    done_on = fields.Date(load_default=None, allow_none=True)
    version = fields.Integer(load_default=None, allow_none=True)


class RiskIn(InputSchema):
    answers = fields.Dict(
        keys=fields.String(), values=fields.Boolean(allow_none=True), required=True
    )
    judgement_high = fields.Boolean(load_default=False)
    judgement_reason = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=2000)
    )

    @validates("answers")
    def check_answers(self, value: dict[str, Any], **_: Any) -> None:
        unknown = sorted(set(value) - set(QUESTION_KEYS))
        if unknown:
            raise ValidationError(f'Preguntas desconocidas: {", ".join(unknown)}; use "1" a "24".')


class SafetyPlanIn(InputSchema):
    plan = fields.String(required=True, validate=validate.Length(min=1, max=20000))
    version = fields.Integer(load_default=None, allow_none=True)


class CaseStatusIn(InputSchema):
    status = fields.String(required=True, validate=_one_of(CASE_STATUSES))
    reason = fields.String(load_default=None, allow_none=True, validate=_one_of(CLOSE_REASONS))
    version = fields.Integer(load_default=None, allow_none=True)


class MeasureIn(InputSchema):
    measure = fields.String(required=True, validate=validate.Length(min=1, max=30))
    requested = fields.Boolean(load_default=True)
    granted = fields.Boolean(load_default=False)
    court = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=160))
    starts_on = fields.Date(load_default=None, allow_none=True)
    ends_on = fields.Date(load_default=None, allow_none=True)
    status = fields.String(load_default=None, allow_none=True, validate=_one_of(MEASURE_STATUSES))


class MeasureUpdateIn(InputSchema):
    status = fields.String(load_default=None, allow_none=True, validate=_one_of(MEASURE_STATUSES))
    granted = fields.Boolean(load_default=None, allow_none=True)
    court = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=160))
    starts_on = fields.Date(load_default=None, allow_none=True)
    ends_on = fields.Date(load_default=None, allow_none=True)
    version = fields.Integer(load_default=None, allow_none=True)


class ComplaintIn(InputSchema):
    number = fields.String(required=True, validate=validate.Length(min=1, max=40))
    filed_on = fields.Date(load_default=local_today)
    incident_ids = fields.List(fields.UUID(), load_default=list)
    forward_to_prosecutor = fields.Boolean(load_default=False)
    measures = fields.List(fields.Nested(MeasureIn), load_default=list)


ConsentUpdateIn = ConsentIn


# ---- output ---------------------------------------------------------------------------


class CreatedOut(Schema):
    id = fields.String()
    case_id = fields.String()


class NoteOut(Schema):
    id = fields.String()
    kind = fields.String()
    given_on = fields.String()
    institution = fields.String()
    confidential = fields.Boolean()
    hidden = fields.Boolean()
    text = fields.String(allow_none=True)


class FollowUpOut(Schema):
    id = fields.String()
    case_id = fields.String()
    case_number = fields.String()
    due_on = fields.String()
    channel = fields.String()
    institution = fields.String()
    outcome = fields.String(allow_none=True)
    done_on = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    version = fields.Integer()


class FollowUpListOut(Schema):
    items = fields.List(fields.Nested(FollowUpOut))


class RiskOut(Schema):
    id = fields.String()
    case_id = fields.String()
    score = fields.Integer()
    level = fields.String()
    reasons = fields.List(fields.String())
    suggest_protection_referral = fields.Boolean()


class RiskRecordOut(Schema):
    id = fields.String()
    at = fields.String()
    institution = fields.String()
    score = fields.Integer()
    level = fields.String()
    judgement_high = fields.Boolean()
    judgement_reason = fields.String(allow_none=True)
    answers = fields.Dict()


class SafetyPlanOut(Schema):
    plan = fields.String(allow_none=True)
    updated_at = fields.String()
    version = fields.Integer()


class MeasureOut(Schema):
    id = fields.String()
    case_number = fields.String()
    measure = fields.String()
    requested = fields.Boolean()
    granted = fields.Boolean()
    court = fields.String(allow_none=True)
    starts_on = fields.String(allow_none=True)
    ends_on = fields.String(allow_none=True)
    status = fields.String()
    version = fields.Integer()


class MeasureListOut(Schema):
    items = fields.List(fields.Nested(MeasureOut))


class ComplaintOut(Schema):
    id = fields.String()
    number = fields.String()
    filed_on = fields.String()
    institution = fields.String()
    status = fields.String()
    forward_to_prosecutor = fields.Boolean()
    incident_ids = fields.List(fields.String())
    measures = fields.List(fields.Nested(MeasureOut))


class AttachmentOut(Schema):
    id = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    institution = fields.String()
    created_at = fields.String()
    filename = fields.String()
    description = fields.String(allow_none=True)


class CaseStatusOut(Schema):
    id = fields.String()
    status = fields.String()
    close_reason = fields.String(allow_none=True)
    version = fields.Integer()


class TimelineOut(Schema):
    at = fields.String()
    kind = fields.String()
    institution = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)
