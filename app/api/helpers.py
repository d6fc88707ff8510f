"""What every API view does: read the JSON body, validate, know the caller, answer."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Response, current_app, jsonify, request
from marshmallow import Schema
from werkzeug.exceptions import BadRequest

from app.api.auth import client_ip, current_api_user
from app.auth.caller import Caller


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


def answer(
    schema: type[Schema], payload: Any, status: int = 200, *, in_schema_order: bool = False
) -> Response:
    """`in_schema_order`: keys as the schema declares them, not sorted (her record: her
    contact rules come before her phone for a client reading the answer in order)."""
    dumped = _output_schema(schema).dump(payload)
    if not in_schema_order:
        response = jsonify(dumped)
    else:
        body = current_app.json.dumps(dumped, sort_keys=False)
        response = current_app.response_class(f"{body}\n", mimetype="application/json")
    response.status_code = status
    return response


def api_caller() -> Caller:
    """The one place the API says who is asking."""
    return Caller(current_api_user(), client_ip(), "api")
