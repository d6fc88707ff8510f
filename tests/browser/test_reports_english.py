"""The supervisor's statistics in English (issue 12, item 6): she switches with the
header's button and the dashboard (a table by type of violence × municipality, its
charts), the monthly report and the retention page show no Spanish: the labels of the
statistics, the months and the legal bases are translated where they are shown.

Screenshots land in test-output/screenshots/english-reports-*.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from tests.browser.pages import BasePage, LoginPage
from tests.browser.test_english_browser import assert_no_spanish
from tests.browser.test_supervisor_day import _api, _erasure_asked_by
from tests.factories import intake
from tests.report_helpers import seed_observatory
from tests.test_english import her_data, proper_names

pytestmark = pytest.mark.browser

BY_TYPE_AND_PLACE = "/reports?from=2026-10-01&to=2026-10-31&by=violence_type&by=municipality"


def test_the_statistics_read_in_english(browsing, make_account, live_server):
    agent = make_account("pnc_agent", "PNC-SON", "Ana Martínez")
    health = make_account("health_staff", "US-SON", "Alberto Ruiz")
    supervisor = make_account("supervisor", "RED-SON", "Sonia Hernández")
    client, agent_headers = _api(live_server, agent.username)
    # seed_observatory reads only a person's headers: the API as her office system calls it.
    seed_observatory(
        client,
        cast(Any, SimpleNamespace(headers=agent_headers)),
        cast(Any, SimpleNamespace(headers=_api(live_server, health.username)[1])),
    )
    opened = client.post("/api/v1/cases", json=intake(), headers=agent_headers)
    assert opened.status_code == 201, opened.get_json()
    _erasure_asked_by(live_server, agent.username, opened.get_json()["id"])
    # The directory's names, her data and the country's name stay as they are.
    allowed: list[Any] = [*proper_names(live_server.app), *her_data(), "El Salvador"]

    page = browsing.new_page()
    dashboard = LoginPage(page).log_in(supervisor)
    dashboard.switch_language()
    assert dashboard.lang() == "en"
    reports = BasePage(page)
    reports.open(BY_TYPE_AND_PLACE)
    assert_no_spanish(page, allowed, "dashboard")
    table = page.locator("table.stats").first
    assert table.locator("caption").inner_text() == "Type of violence (LEIV)"
    assert table.locator("tbody th").all_inner_texts()[:3] == [
        "Physical",
        "Psychological and emotional",
        "Sexual",
    ]
    titles = page.locator("svg.chart > title").all_text_contents()
    assert titles[:2] == ["Incidents by type of violence (LEIV)", "Incidents by municipality"]
    assert page.locator("svg.chart text", has_text="Oct 26").count() == 1
    reports.screenshot("english-reports-dashboard")

    reports.open("/reports/monthly?month=2026-10")
    assert_no_spanish(page, allowed, "monthly report")
    assert page.get_by_role("row", name="12-17 years").count() >= 1
    reports.screenshot("english-reports-monthly")

    reports.open("/audit/retention")
    assert_no_spanish(page, allowed, "retention")
    erasures = page.locator("section#supresiones").inner_text()
    assert "She withdrew her consent and asks for erasure" in erasures
    reports.screenshot("english-reports-retention")
