"""Shared URL builders for the suite, which builds an app per test (as a deployment's
worker does once). Werkzeug compiles two builder functions from an AST for each of the
app's routes: 70 ms of every `create_app`, nine tenths of it. A builder depends only on
the rule's parsed parts and defaults, so a rule seen before reuses its functions. Kept
outside the application: a worker starts once and gains nothing from it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing.rules import Rule

Builder = Callable[..., tuple[str, str]]

_BUILDERS: dict[tuple[Any, ...], Builder] = {}


def _builder_key(rule: Rule, append_unknown: bool) -> tuple[Any, ...]:
    converters = tuple(
        (name, type(converter).__qualname__, getattr(converter, "regex", None))
        for name, converter in sorted(rule._converters.items())
    )
    defaults = tuple(sorted((key, repr(value)) for key, value in (rule.defaults or {}).items()))
    return (rule.rule, tuple(rule._trace), defaults, converters, append_unknown)


def use_shared_url_builders() -> None:
    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None or getattr(compile_builder, "shared", False):
        return  # another Werkzeug: compile as it does

    def shared(self: Rule, append_unknown: bool = True) -> Builder:
        key = _builder_key(self, append_unknown)
        builder = _BUILDERS.get(key)
        if builder is None:
            builder = _BUILDERS[key] = compile_builder(self, append_unknown)
        return builder

    shared.shared = True  # type: ignore[attr-defined]
    shared.original = compile_builder  # type: ignore[attr-defined]
    Rule._compile_builder = shared  # type: ignore[method-assign]
