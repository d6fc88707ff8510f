"""The search page. The form is posted (CSRF-checked) and the results come back on the
same page: no identifier ever travels in a URL, a redirect or the browser's history."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from app.cases import search as case_search
from app.cases.name_search import present_candidate
from app.cases.schemas import SearchIn
from app.crypto.service import get_keyring
from app.extensions import db
from app.web.case_forms import SearchForm
from app.web.cases import bp, require_case_worker
from app.web.formtools import attempt, blank_to_none, load, web_caller

SEARCH_FIELDS = ("name_like", "birth_year", "dui", "name", "birth_date", "number", "phone")


def search_query(form: SearchForm) -> dict[str, Any]:
    """What was typed, blanks left out: the schema then sees which kind of search it is."""
    values = {name: blank_to_none(getattr(form, name).data) for name in SEARCH_FIELDS}
    if values["birth_date"] is not None:
        values["birth_date"] = values["birth_date"].isoformat()
    return {name: value for name, value in values.items() if value is not None}


def render_search(form: SearchForm, status: int = 200, **context: Any) -> tuple[str, int]:
    context.setdefault("problems", [])
    context.setdefault("found", None)  # None: nothing was searched
    return render_template("cases/search.html", form=form, **context), status


@bp.route("/cases/search", methods=["GET", "POST"], endpoint="search")
def search_page() -> tuple[str, int]:
    require_case_worker()
    form = SearchForm()
    if request.method == "GET":
        return render_search(form)  # a query string, if any, is ignored: never pre-filled
    if not form.validate_on_submit():  # a date the browser could not read
        return render_search(form, 422)

    def run() -> list[Any]:
        query = load(SearchIn, search_query(form))
        return case_search.search_cases(db.session, get_keyring(), web_caller(), **query)

    found, problems = attempt(form, {}, run)
    if found is None:
        return render_search(form, 422, problems=problems)
    return render_search(form, found=[present_candidate(candidate) for candidate in found])
