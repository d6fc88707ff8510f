"""Schemas of the justice pathway, shared by both faces."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.cases import justice_policy as rules
from app.cases.schemas import InputSchema
from app.core.i18n import N_, later
from app.core.ids import MAX_ID


def _one_of(values: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(
        list(values), error=later(N_("Código desconocido: {input}. Valores válidos: {choices}."))
    )


_NUMBER = validate.Length(min=1, max=60)


class ComplaintMoveIn(InputSchema):
    action = fields.String(
        required=True,
        validate=_one_of(rules.ACTIONS),
        metadata={
            "description": "forward, file_requerimiento, sentence, dismiss; conciliate and "
            "mediate are refused (422 conciliation_prohibited, LEIV art. 58)"
        },
    )
    version = fields.Integer(required=True, metadata={"description": "the complaint's"})
    moved_on = fields.Date(load_default=None, allow_none=True)


class FileNumbersIn(InputSchema):
    fgr_number = fields.String(validate=_NUMBER, metadata={"description": "prosecutor staff"})
    court_number = fields.String(validate=_NUMBER, metadata={"description": "court staff"})
    version = fields.Integer(required=True, metadata={"description": "the complaint's"})


class HearingIn(InputSchema):
    starts_at = fields.DateTime(
        required=True, metadata={"description": "without a zone: El Salvador's time"}
    )
    court_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    kind = fields.String(required=True, validate=_one_of(rules.HEARING_KINDS))
    version = fields.Integer(load_default=None, allow_none=True)


class HearingOutcomeIn(InputSchema):
    outcome = fields.String(required=True, validate=_one_of(rules.HEARING_OUTCOMES))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000))
    version = fields.Integer(required=True)


class HearingNoticeIn(InputSchema):
    show_hearings_in_status = fields.Boolean(required=True)
    given_by = fields.String(
        load_default="survivor", validate=validate.OneOf(("survivor", "guardian"))
    )


class MoveOut(Schema):
    action = fields.String()
    from_status = fields.String()
    to_status = fields.String()
    moved_on = fields.String()
    at = fields.String()
    institution = fields.String()


class HearingOut(Schema):
    id = fields.String()
    complaint_id = fields.String()
    starts_at = fields.String()
    court_id = fields.Integer()
    court = fields.String()
    kind = fields.String()
    outcome = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    version = fields.Integer()


class HearingNoticeOut(Schema):
    show_hearings_in_status = fields.Boolean()
    given_by = fields.String()
    recorded_at = fields.String()


class ComplaintStateOut(Schema):
    """A complaint after a move or new file numbers."""

    id = fields.String()
    status = fields.String()
    version = fields.Integer()
    fgr_number = fields.String(allow_none=True)
    court_number = fields.String(allow_none=True)
    status_history = fields.List(fields.Nested(MoveOut))
    hearings = fields.List(fields.Nested(HearingOut))
