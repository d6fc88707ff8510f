"""The OpenAPI description covers every API route and is a valid OpenAPI 3 document."""

import re

from openapi_spec_validator import validate

from tests.test_permissions import registered_routes


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.removeprefix("/api/v1"))


def test_every_api_route_is_described(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    described = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    api_routes = {
        (_openapi_path(rule), method)
        for rule, method in registered_routes()
        if rule.startswith("/api/v1/")
    }
    assert api_routes - described == set()
    assert described - api_routes == set()


def test_description_is_valid_openapi(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    validate(spec)
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert spec["paths"]["/cases"]["post"]["requestBody"]["content"]["application/json"]
