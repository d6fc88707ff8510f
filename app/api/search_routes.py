"""Finding cases over the API. Identifiers travel only in a POST body: a URL sits in
access logs, proxies and histories, so a DUI, name or birth date in one is refused."""

from __future__ import annotations

from flask import Response, request

from app.api import bp
from app.api.errors import error_response
from app.api.helpers import answer, api_caller, json_body, load
from app.cases import duplicates, search
from app.cases.name_search import present_candidate, summary_of
from app.cases.schemas import (
    IDENTIFIER_PARAMETERS,
    CandidateListOut,
    CaseListOut,
    DuplicatesIn,
    SearchIn,
    WorkListOut,
    WorkListQueryIn,
)
from app.core.ids import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db

IDENTIFIER_IN_URL = (
    "Los datos de identidad (DUI, nombre, fecha de nacimiento, teléfono) no pueden ir en "
    "la URL: use POST /api/v1/cases/search con los datos en el cuerpo JSON."
)


def identifier_in_url() -> Response | None:
    """The refusal, naming no value: the values are repeated nowhere, not even here."""
    if IDENTIFIER_PARAMETERS.isdisjoint(key.lower() for key in request.args):
        return None
    return error_response(400, "identifier_in_url", IDENTIFIER_IN_URL)


# Kinds that answer ranked candidates (with her name for a `full` view); the exact kinds
# of CONTRACT §3 keep their summary items.
CANDIDATE_KINDS = frozenset({"phone", "name_like"})


@bp.post("/cases/search")
def search_cases() -> Response:
    refused = identifier_in_url()
    if refused is not None:
        return refused
    query = load(SearchIn, json_body())
    found = search.search_cases(db.session, get_keyring(), api_caller(), **query)
    if CANDIDATE_KINDS.isdisjoint(query):
        return answer(CaseListOut, {"items": [summary_of(c) for c in found]})
    return answer(CandidateListOut, {"items": [present_candidate(c) for c in found]})


@bp.post("/cases/duplicates")
def possible_duplicates() -> Response:
    """While she is being registered: the fields as typed, in the body."""
    refused = identifier_in_url()
    if refused is not None:
        return refused
    data = load(DuplicatesIn, json_body())
    found = duplicates.possible_duplicates(db.session, get_keyring(), api_caller(), data)
    return answer(CandidateListOut, {"items": [present_candidate(c) for c in found]})


@bp.get("/cases/<case_id>/duplicates")
def case_duplicates(case_id: str) -> Response:
    found = duplicates.case_duplicates(db.session, get_keyring(), api_caller(), parse_uuid(case_id))
    return answer(CandidateListOut, {"items": [present_candidate(c) for c in found]})


@bp.get("/cases")
def work_list() -> Response:
    refused = identifier_in_url()
    if refused is not None:
        return refused
    query = load(WorkListQueryIn, request.args.to_dict())
    found = search.work_list(db.session, get_keyring(), api_caller(), **query)
    return answer(
        WorkListOut,
        {"items": found.items, "next_page": found.next_page, "counts": found.counts},
    )
