"""Schemas of the aggressor's record and of the repeat-aggressor signal (both faces)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.cases.schemas import InputSchema, _codes, _not_future, _valid_dui
from app.cases.vocab import AGE_GROUPS, RELATIONSHIPS, SEXES
from app.core.i18n import N_, later

PREVIOUS_COMPLAINTS = ("yes", "no", "unknown")
AGE_GROUP_CODES = (*(label for label, _low, _high in AGE_GROUPS), "60+")


def _one_of(values: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(
        list(values), error=later(N_("Código desconocido: {input}. Valores válidos: {choices}."))
    )


def _text(most: int) -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=most))


class AggressorFieldsIn(InputSchema):
    """Every field optional: a correction sends those that change."""

    given_names = _text(120)
    family_names = _text(120)
    dui = fields.String(allow_none=True, validate=[validate.Length(max=20), _valid_dui])
    birth_date = fields.Date(allow_none=True, validate=_not_future)
    alias = _text(120)
    notes = _text(2000)
    sex = fields.String(allow_none=True, validate=_codes(SEXES))
    age_group = fields.String(allow_none=True, validate=_one_of(AGE_GROUP_CODES))
    relationship = fields.String(validate=_codes(RELATIONSHIPS))
    lives_with_her = fields.Boolean(allow_none=True)
    has_firearm = fields.Boolean(allow_none=True)
    firearm_licence = fields.Boolean(allow_none=True)
    previous_complaints = fields.String(validate=_one_of(PREVIOUS_COMPLAINTS))
    works_at_institution_id = fields.Integer(allow_none=True, strict=True)


class AggressorIn(AggressorFieldsIn):
    relationship = fields.String(required=True, validate=_codes(RELATIONSHIPS))


class AggressorUpdateIn(AggressorFieldsIn):
    version = fields.Integer(required=True, strict=True)


class AggressorOut(Schema):
    id = fields.String()
    incident_id = fields.String()
    given_names = fields.String(allow_none=True)
    family_names = fields.String(allow_none=True)
    dui = fields.String(allow_none=True)
    birth_date = fields.String(allow_none=True)
    alias = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    sex = fields.String(allow_none=True)
    age_group = fields.String(allow_none=True)
    relationship = fields.String()
    lives_with_her = fields.Boolean(allow_none=True)
    has_firearm = fields.Boolean(allow_none=True)
    firearm_licence = fields.Boolean(allow_none=True)
    previous_complaints = fields.String()
    works_at_institution_id = fields.Integer(allow_none=True)
    works_at_institution = fields.String(allow_none=True, metadata={"description": "its code"})
    institution = fields.String(metadata={"description": "the institution that recorded him"})
    version = fields.Integer()


class RepeatAggressorOut(Schema):
    other_cases = fields.Integer(
        metadata={
            "description": "other live cases with an aggressor of the same DUI, or the same "
            "name and birth date (blind indexes); nothing else of them is told"
        }
    )
