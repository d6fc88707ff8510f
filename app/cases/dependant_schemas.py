"""API schemas of her children and dependants and of the 72-hour window."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.cases.dependant_models import EXPOSURE, RELATIONSHIPS
from app.cases.schemas import InputSchema, _name
from app.core.time import local_today

_BIRTH_YEAR = validate.Range(min=1900, max=2200)
_AGE = validate.Range(min=0, max=120)


class DependantFields(InputSchema):
    given_names = _name()
    family_names = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=100)
    )
    birth_year = fields.Integer(load_default=None, allow_none=True, validate=_BIRTH_YEAR)
    age = fields.Integer(load_default=None, allow_none=True, validate=_AGE)
    relationship = fields.String(validate=validate.OneOf(RELATIONSHIPS))
    lives_with_her = fields.Boolean(allow_none=True)
    witnessed_violence = fields.String(validate=validate.OneOf(EXPOSURE))
    suffered_violence = fields.String(validate=validate.OneOf(EXPOSURE))
    incident_ids = fields.List(fields.UUID())

    @validates_schema
    def _birth_year_not_future(self, data: dict[str, Any], **_: Any) -> None:
        year = data.get("birth_year")
        if year is not None and year > local_today().year:
            raise ValidationError(gettext("El año no puede ser futuro."), "birth_year")


class DependantIn(DependantFields):
    given_names = _name(required=True)
    relationship = fields.String(required=True, validate=validate.OneOf(RELATIONSHIPS))

    @validates_schema(skip_on_field_errors=False)
    def _age_given(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("birth_year") is None and data.get("age") is None:
            raise ValidationError(gettext("Indique el año de nacimiento o la edad."), "age")


class DependantPatchIn(DependantFields):
    """The fields sent change; `version` is the one read."""

    measure_ids = fields.List(fields.UUID())
    version = fields.Integer(required=True)

    def load(self, data: Any, **kwargs: Any) -> Any:
        loaded = super().load(data, **kwargs)
        # Absent keys stay: only what was sent is changed.
        return {key: value for key, value in loaded.items() if key in (data or {})}


class DependantOut(Schema):
    id = fields.String()
    given_names = fields.String(allow_none=True)
    family_names = fields.String(allow_none=True)
    birth_year = fields.Integer(allow_none=True)
    age = fields.Integer(allow_none=True, metadata={"description": "to within a year"})
    age_group = fields.String(allow_none=True)
    relationship = fields.String()
    lives_with_her = fields.Boolean(allow_none=True)
    witnessed_violence = fields.String()
    suffered_violence = fields.String()
    needs_protection = fields.Boolean(
        metadata={"description": "a minor who witnessed or suffered violence: mandatory report"}
    )
    incident_ids = fields.List(fields.String())
    measure_ids = fields.List(fields.String())
    version = fields.Integer()


class DependantSummaryOut(Schema):
    with_her = fields.Integer(metadata={"description": "children who live with her"})
    age_groups = fields.Dict(keys=fields.String(), values=fields.Integer())


class RapeWindowOut(Schema):
    pep_until = fields.String(metadata={"description": "72 h: post-exposure prophylaxis"})
    ec_until = fields.String(metadata={"description": "120 h: emergency contraception"})
    pep_hours_left = fields.Integer()
    ec_hours_left = fields.Integer()
    pep_open = fields.Boolean()
