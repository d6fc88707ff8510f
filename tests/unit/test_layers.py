"""Guards that keep the house as ARCHITECTURE.md draws it.

Imports are read from the source (ast), so a rule here fails on the line that breaks it:
no cycle between packages; the faces never import each other; `cases` never imports
`referrals` (referrals build on cases);
no domain package imports a face (`app.web`, `app.api`) or `flask.request`/WTForms;
`crypto` and `core` import nothing of the domain. Views parse, call one service and
answer: no query, no commit, no audit call in `app/web` or `app/api`.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
FACES = {"web", "api"}
BELOW_THE_DOMAIN = {"core", "crypto"}
DOMAIN_PACKAGES = {
    "auth",
    "audit",
    "cases",
    "directory",
    "notifications",
    "referrals",
    "reports",
    "retention",
    "status",
}
FORBIDDEN_IN_DOMAIN = ("flask.request", "wtforms", "flask_wtf", "flask_login", "app.web", "app.api")
VIEW_CALLS = {
    "commit",
    "rollback",
    "select",
    "execute",
    "record_event",
    "audit",
    "audit_web",
    "scalar",
    "scalars",
}


def _modules() -> dict[str, ast.Module]:
    return {
        path.relative_to(APP).with_suffix("").as_posix(): ast.parse(path.read_text())
        for path in sorted(APP.rglob("*.py"))
    }


def _package(module: str) -> str:
    return module.split("/")[0]


def _imports(tree: ast.Module) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def _app_package(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "app" and len(parts) > 1 else None


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, tree in _modules().items():
        here = _package(module)
        for _, name in _imports(tree):
            there = _app_package(name)
            if there and there != here and (APP / there).is_dir():
                graph[here].add(there)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, node])):
                return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [])):
            return found
    return None


def test_no_cycle_between_packages():
    assert _cycle(package_graph()) is None


def test_the_two_faces_never_import_each_other():
    graph = package_graph()
    assert "api" not in graph["web"] and "web" not in graph["api"]


def test_cases_never_import_referrals():
    assert "referrals" not in package_graph()["cases"]


def test_core_and_crypto_import_nothing_of_the_domain_or_the_faces():
    graph = package_graph()
    for low in BELOW_THE_DOMAIN:
        assert graph[low] <= BELOW_THE_DOMAIN, (low, graph[low])


def test_domain_packages_import_no_face_and_no_request():
    offenders = [
        f"app/{module}.py:{line} imports {name}"
        for module, tree in _modules().items()
        if _package(module) in DOMAIN_PACKAGES
        for line, name in _imports(tree)
        if name.startswith(FORBIDDEN_IN_DOMAIN)
    ]
    assert offenders == []


def test_views_hold_no_query_commit_or_audit_call():
    offenders = []
    for module, tree in _modules().items():
        if _package(module) not in FACES:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in VIEW_CALLS:
                    offenders.append(f"app/{module}.py:{node.lineno} {name}()")
    assert offenders == []


def test_the_graph_reader_sees_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
