"""The timings a page's script works with come from the settings, through the page: the
production defaults (30 minutes idle, a warning two minutes before, a ping a minute at
most), and the few seconds the browser tests configure (RUTA_IDLE_TIMEOUT,
RUTA_SESSION_WARN_BEFORE)."""

from __future__ import annotations

import math
import re
import time
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from tests.auth_helpers import start_web_session


def _clock_of_page(app: Flask, client: FlaskClient, username: str) -> dict[str, int]:
    start_web_session(app, client, username)
    html = client.get("/").get_data(as_text=True)
    found = dict(re.findall(r'data-session-(left|warn|ping-every)="(\d+)"', html))
    assert set(found) == {"left", "warn", "ping-every"}, found
    return {name: int(value) for name, value in found.items()}


def test_the_page_carries_the_production_timings_by_default(app, client, make_person):
    person = make_person("pnc_agent", "PNC-SON")
    clock = _clock_of_page(app, client, person.username)
    assert 1790 <= clock["left"] <= 1800
    assert clock["warn"] == 120
    assert clock["ping-every"] == 60


def test_the_page_carries_a_short_idle_time_and_warning_lead_when_configured(
    app, client, make_person
):
    app.config["RUTA_IDLE_TIMEOUT"] = timedelta(seconds=10)
    app.config["RUTA_SESSION_WARN_BEFORE"] = timedelta(seconds=4)
    person = make_person("pnc_agent", "PNC-SON")
    started = time.monotonic()
    clock = _clock_of_page(app, client, person.username)
    # Whole seconds left of the ten, less those the sign-in and the page took (a loaded
    # machine takes several).
    assert 10 - math.ceil(time.monotonic() - started) - 1 <= clock["left"] <= 10
    assert clock["warn"] == 4
    assert clock["ping-every"] == 1


def test_a_warning_lead_longer_than_half_the_idle_time_is_cut_to_its_half(app, client, make_person):
    app.config["RUTA_IDLE_TIMEOUT"] = timedelta(seconds=30)
    person = make_person("pnc_agent", "PNC-SON")
    clock = _clock_of_page(app, client, person.username)
    assert clock["warn"] == 15
