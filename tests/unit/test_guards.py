"""Guards that keep the one way into her record the only one.

`app/cases/access.py` is the only code that queries cases or joins the party table; the
statistics (de-identified counts) and the survivor's status lookup (her own code and
PIN) are the only exceptions. A new query anywhere else fails here, by file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
LOADER = "cases/access.py"
ALLOWED = {LOADER, "status/service.py"}
ALLOWED_PACKAGES = ("reports/",)
GUARDED = {"Case", "CaseParty", "CaseExclusion"}
QUERYING = {
    "select",
    "get",
    "get_one",
    "join",
    "outerjoin",
    "exists",
    "where",
    "filter",
    "filter_by",
    "query",
    "join_from",
    "select_from",
}
# SQLAlchemy's `update(...)`/`delete(...)` functions, not a dict's `.update(...)`.
STATEMENTS = {"update", "delete", "insert"}


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _called(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id if call.func.id in QUERYING | STATEMENTS else None
    if isinstance(call.func, ast.Attribute):
        return call.func.attr if call.func.attr in QUERYING else None
    return None


def case_queries(source: str) -> list[tuple[int, str]]:
    """(line, call) of every query-building call that names a guarded model."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or _called(node) is None:
            continue
        arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
        if any(_names(argument) & GUARDED for argument in arguments):
            found.append((node.lineno, _called(node) or "?"))
    return found


def _guarded_files() -> list[Path]:
    return [
        path
        for path in sorted(APP.rglob("*.py"))
        if (rel := path.relative_to(APP).as_posix()) not in ALLOWED
        and not rel.startswith(ALLOWED_PACKAGES)
    ]


def test_no_case_query_or_party_join_outside_the_loader():
    offenders = [
        f"app/{path.relative_to(APP).as_posix()}:{line} {call}(…Case…)"
        for path in _guarded_files()
        for line, call in case_queries(path.read_text())
    ]
    assert offenders == [], "case queries outside app/cases/access.py:\n" + "\n".join(offenders)


def test_the_guard_sees_each_way_of_querying_a_case():
    """The detector itself: it must flag what the loader does, or it guards nothing."""
    samples = [
        "select(Case).where(Case.id == x)",
        "session.get(Case, case_id)",
        "select(Referral, Case.number).join(Case, Case.id == Referral.case_id)",
        "exists().where(CaseParty.case_id == x)",
        "session.execute(update(CaseParty).values(access='own_parts'))",
    ]
    for sample in samples:
        assert case_queries(sample), sample
    assert case_queries((APP / LOADER).read_text())
    assert not case_queries("def f(case: Case) -> Case:\n    return Case(id=1)")
