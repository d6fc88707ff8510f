"""What every API view does: read the JSON body, validate, know the caller, answer."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Response, jsonify, request
from marshmallow import Schema
from werkzeug.exceptions import BadRequest

from app.api.auth import actor_for, client_ip, current_api_user
from app.audit.service import record_event
from app.auth.caller import Caller
from app.crypto.service import get_keyring
from app.extensions import db


def json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    return data


def load(schema: type[Schema], data: Any) -> dict[str, Any]:
    return schema().load(data)


@cache
def _output_schema(schema: type[Schema]) -> Schema:
    """One instance per schema class: building one costs more than the dump itself."""
    return schema()


def answer(schema: type[Schema], payload: Any, status: int = 200) -> Response:
    response = jsonify(_output_schema(schema).dump(payload))
    response.status_code = status
    return response


def audit(action: str, **details: Any) -> None:
    """Record an event for the calling user in the request's transaction."""
    record_event(
        db.session, get_keyring().audit_key, actor_for(current_api_user()), action, **details
    )


def api_caller() -> Caller:
    """The one place the API says who is asking."""
    return Caller(current_api_user(), client_ip(), "api")
