"""The body of the survivor's status call and its answer."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate


class StatusIn(Schema):
    """The code and PIN from her slip; anything else sent is ignored."""

    class Meta:
        unknown = EXCLUDE

    code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    pin = fields.String(required=True, validate=validate.Length(min=1, max=20))


class StatusOut(Schema):
    status = fields.String()
    next_step = fields.String()
