"""The statistics tests' data set (tests/report_helpers.py, `seed_observatory`), built once
per module and worker and put back before each test that asks for `seeded`
(tests/kept_world.py): seeding it through the API takes a second or two. A test that does
not ask for it starts from the empty template, as everywhere else.

A module takes the fixtures by importing them:

    from tests.observatory_world import health, kept_seeded, pnc, seeded, settings
"""

from __future__ import annotations

from typing import Any

from tests.kept_world import world_fixtures
from tests.report_helpers import Seeded, seed_observatory


def _seed(_app: Any, client: Any, _make_person: Any, people: dict[str, Any]) -> Seeded:
    return seed_observatory(client, people["pnc"], people["health"])


kept_seeded, settings, pnc, health, seeded = world_fixtures("seeded", _seed, ("pnc", "health"))
