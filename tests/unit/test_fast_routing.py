"""The suite's shared URL builders (tests/fast_routing.py) build what Werkzeug's own do."""

from __future__ import annotations

from werkzeug.routing.rules import Rule

from app import create_app
from app.extensions import db


def test_every_route_builds_the_same_url_with_the_shared_builders(app):
    original = Rule._compile_builder.original  # type: ignore[attr-defined]
    rules = list(app.url_map.iter_rules())
    assert len(rules) > 100
    for rule in rules:
        for append_unknown in (False, True):
            own = original(rule, append_unknown)
            shared = rule._compile_builder(append_unknown)
            code = own.__code__
            names = code.co_varnames[1 : code.co_argcount]  # after ".self"
            values = {name: "7" for name in names}
            extra = {"q": "a b"} if append_unknown else {}
            built = shared(rule, **values, **extra)
            assert built == own(rule, **values, **extra), rule.rule


def test_a_second_app_reuses_the_first_apps_builders(app, settings):
    again = create_app(settings)
    try:
        first = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
        for rule in again.url_map.iter_rules():
            assert rule._build.__func__ is first[rule.endpoint]._build.__func__, rule.rule
    finally:
        with again.app_context():
            db.engine.dispose()  # its start-up checks opened a connection
