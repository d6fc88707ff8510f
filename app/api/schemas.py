"""Schemas of the API's own calls (tokens, directory); case schemas live in app.cases."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate


class TokenIn(Schema):
    class Meta:
        unknown = EXCLUDE

    username = fields.String(required=True, validate=validate.Length(min=1, max=200))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    otp = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))


class TokenOut(Schema):
    token = fields.String()
    expires_at = fields.String()


class InstitutionOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    municipality = fields.String()
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    hours = fields.String(allow_none=True)
    services = fields.List(fields.String())


class InstitutionListOut(Schema):
    items = fields.List(fields.Nested(InstitutionOut))


class ErrorOut(Schema):
    error = fields.String()
    message = fields.String()
    field_errors = fields.Dict(data_key="fields")
