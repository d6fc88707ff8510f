"""Finding cases over the API. Identifiers travel only in a POST body: a URL sits in
access logs, proxies and histories, so a DUI, name or birth date in one is refused."""

from __future__ import annotations

from flask import Response, request

from app.api import bp
from app.api.errors import error_response
from app.api.helpers import answer, api_caller, json_body, load
from app.cases import search
from app.cases.present import case_summary
from app.cases.schemas import CaseListOut, SearchIn, WorkListOut, WorkListQueryIn
from app.crypto.service import get_keyring
from app.extensions import db

IDENTIFIER_PARAMETERS = frozenset(
    {"dui", "name", "birth_date", "given_names", "family_names", "phone"}
)
IDENTIFIER_IN_URL = (
    "Los datos de identidad (DUI, nombre, fecha de nacimiento, teléfono) no pueden ir en "
    "la URL: use POST /api/v1/cases/search con los datos en el cuerpo JSON."
)


def identifier_in_url() -> Response | None:
    """The refusal, naming no value: the values are repeated nowhere, not even here."""
    if IDENTIFIER_PARAMETERS.isdisjoint(key.lower() for key in request.args):
        return None
    return error_response(400, "identifier_in_url", IDENTIFIER_IN_URL)


@bp.post("/cases/search")
def search_cases() -> Response:
    refused = identifier_in_url()
    if refused is not None:
        return refused
    query = load(SearchIn, json_body())
    found = search.search_cases(db.session, get_keyring(), api_caller(), **query)
    return answer(CaseListOut, {"items": [case_summary(case) for case in found]})


@bp.get("/cases")
def work_list() -> Response:
    refused = identifier_in_url()
    if refused is not None:
        return refused
    query = load(WorkListQueryIn, request.args.to_dict())
    cases, next_page = search.work_list(db.session, api_caller(), **query)
    items = [search.work_item(case) for case in cases]
    return answer(WorkListOut, {"items": items, "next_page": next_page})
