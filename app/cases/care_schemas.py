"""API schemas for what is added to a case after intake."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from marshmallow import Schema, ValidationError, fields, validate, validates

from app.cases.care import CHANNELS, CLOSE_REASONS, FOLLOW_UP_OUTCOMES, NOTE_KINDS, REOPEN_REASONS
from app.cases.complaints import MEASURE_STATUSES
from app.cases.justice_schemas import HearingOut, MoveOut
from app.cases.risk import QUESTION_KEYS, missing_answers
from app.cases.risk import REASONS as RISK_REASONS
from app.cases.schemas import ConsentIn, CorrectionIn, InputSchema
from app.cases.vocab import CASE_STATUSES
from app.core.i18n import N_, later
from app.core.time import local_today


def _one_of(values: tuple[str, ...] | list[str] | dict[str, str]) -> validate.OneOf:
    return validate.OneOf(
        list(values), error=later(N_("Código desconocido: {input}. Valores válidos: {choices}."))
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


UNANSWERED = N_("Responda Sí, No o No sabe.")


class RiskIn(InputSchema):
    """All 24 answers, each true, false or null ("no sabe") given explicitly: a missing
    key is a question nobody asked, never a "no"."""

    answers = fields.Dict(
        keys=fields.String(), values=fields.Boolean(allow_none=True), required=True
    )
    judgement_high = fields.Boolean(load_default=False)
    judgement_reason = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=2000)
    )
    reason = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=2000),
        metadata={"description": "required when the level drops from high"},
    )

    @validates("answers")
    def check_answers(self, value: dict[str, Any], **_: Any) -> None:
        unknown = sorted(set(value) - set(QUESTION_KEYS))
        if unknown:
            raise ValidationError(
                gettext(
                    'Preguntas desconocidas: %(keys)s; use "1" a "24".', keys=", ".join(unknown)
                )
            )
        missing = missing_answers(value)
        if missing:
            raise ValidationError({key: [gettext(UNANSWERED)] for key in missing})


class SafetyPlanIn(InputSchema):
    plan = fields.String(required=True, validate=validate.Length(min=1, max=20000))
    version = fields.Integer(load_default=None, allow_none=True)


class CaseStatusIn(InputSchema):
    status = fields.String(required=True, validate=_one_of(CASE_STATUSES))
    reason = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=500),
        metadata={
            "description": "closing: a code of " + ", ".join(CLOSE_REASONS) + "; reopening: "
            "a code of " + ", ".join(REOPEN_REASONS) + " or a text"
        },
    )
    version = fields.Integer(load_default=None, allow_none=True)


class MeasureIn(InputSchema):
    measure = fields.String(required=True, validate=validate.Length(min=1, max=30))
    requested = fields.Boolean(load_default=True)
    granted = fields.Boolean(load_default=False)
    court = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=160))
    starts_on = fields.Date(load_default=None, allow_none=True)
    ends_on = fields.Date(load_default=None, allow_none=True)
    status = fields.String(load_default=None, allow_none=True, validate=_one_of(MEASURE_STATUSES))
    aggressor_id = fields.UUID(
        load_default=None, allow_none=True, metadata={"description": "the aggressor it is against"}
    )


class MeasureUpdateIn(InputSchema):
    status = fields.String(load_default=None, allow_none=True, validate=_one_of(MEASURE_STATUSES))
    granted = fields.Boolean(load_default=None, allow_none=True)
    court = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=160))
    starts_on = fields.Date(load_default=None, allow_none=True)
    ends_on = fields.Date(load_default=None, allow_none=True)
    version = fields.Integer(load_default=None, allow_none=True)
    aggressor_id = fields.UUID(load_default=None, allow_none=True)


class ComplaintIn(InputSchema):
    number = fields.String(required=True, validate=validate.Length(min=1, max=40))
    filed_on = fields.Date(load_default=local_today)
    incident_ids = fields.List(fields.UUID(), load_default=list)
    forward_to_prosecutor = fields.Boolean(load_default=False)
    measures = fields.List(fields.Nested(MeasureIn), load_default=list)


class ComplaintCorrectionIn(CorrectionIn):
    """The fields sent change (the institution that filed it corrects it)."""

    number = fields.String(validate=validate.Length(min=1, max=40))
    filed_on = fields.Date()
    forward_to_prosecutor = fields.Boolean()
    incident_ids = fields.List(fields.UUID(), validate=validate.Length(min=1))


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
    reasons = fields.List(
        fields.String(),
        metadata={"description": "why the level: " + ", ".join(RISK_REASONS)},
    )
    suggest_protection_referral = fields.Boolean()


class RiskRecordOut(Schema):
    id = fields.String()
    at = fields.String()
    institution = fields.String()
    score = fields.Integer()
    level = fields.String()
    reasons = fields.List(fields.String())
    judgement_high = fields.Boolean()
    judgement_reason = fields.String(allow_none=True)
    lowering_reason = fields.String(
        allow_none=True, metadata={"description": "why it dropped from high"}
    )
    answers = fields.Dict()


class RiskStateOut(Schema):
    """The case's level now, why, and whether a reassessment is due."""

    level = fields.String(allow_none=True)
    reasons = fields.List(fields.String())
    last_assessed_at = fields.String(allow_none=True)
    reassessment_due = fields.Boolean()
    breach_reassessment_by = fields.String(
        allow_none=True,
        metadata={"description": "a measure was breached: assess her risk again by then"},
    )
    breach_reassessment_overdue = fields.Boolean()


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
    breached_at = fields.String(allow_none=True)
    aggressor_id = fields.String(allow_none=True)


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
    version = fields.Integer()
    fgr_number = fields.String(allow_none=True)
    court_number = fields.String(allow_none=True)
    status_history = fields.List(fields.Nested(MoveOut))
    hearings = fields.List(fields.Nested(HearingOut))


class AttachmentOut(Schema):
    id = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    institution = fields.String()
    created_at = fields.String()
    filename = fields.String()
    description = fields.String(allow_none=True)


class StillOpenOut(Schema):
    """What a closed case leaves open: closing is allowed, and says so."""

    referrals = fields.List(fields.Dict())
    follow_ups = fields.List(fields.Dict())
    measures = fields.List(fields.Dict())


class CaseStatusOut(Schema):
    id = fields.String()
    status = fields.String()
    close_reason = fields.String(allow_none=True)
    version = fields.Integer()
    still_open = fields.Nested(
        StillOpenOut, metadata={"description": "only when closing: referrals, follow-ups, measures"}
    )


class TimelineOut(Schema):
    at = fields.String()
    kind = fields.String()
    institution = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)
