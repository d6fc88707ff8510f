"""The observatory's pages: the same protected counts as the API, charts drawn on the
server as SVG, nothing inline that the Content-Security-Policy would refuse."""

from __future__ import annotations

import re

import pytest

from app.web.charts import Point, bar_chart, line_chart
from tests.report_helpers import seed_observatory
from tests.test_permissions import sign_in_web


@pytest.fixture
def supervisor_web(app, supervisor):
    web = app.test_client()
    sign_in_web(app, web, supervisor.username)
    return web


def assert_nothing_inline(page: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # scripts come from files only
    assert "<style" not in page
    assert not re.search(r"\sstyle=", page)
    assert not re.search(r"\son[a-z]+=", page)  # no onclick= and the like


def test_dashboard_shows_the_protected_table_charts_and_indicators(
    client, pnc, health, supervisor_web
):
    seed_observatory(client, pnc, health)
    response = supervisor_web.get(
        "/reports",
        query_string={
            "from": "2026-10-01",
            "to": "2026-10-31",
            "by": ["district", "violence_type"],
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert_nothing_inline(page)
    assert page.count("<svg") == 3  # by place, by type, by month
    assert "Sonsonate" in page and "&lt;5" in page
    sonsonate = page[page.index(">Sonsonate</th>") :]
    cells = re.findall(r'<td class="num[^"]*">(.*?)</td>', sonsonate)[:4]
    assert [re.sub(r"<[^>]+>", "", c) for c in cells] == ["9", "*", "&lt;5", "17"]
    assert "/reports/stats.csv?" in page and "/reports/incidents.csv?" in page
    assert "Indicadores de la red" in page


def test_a_bad_filter_falls_back_to_the_defaults_with_a_message(supervisor_web):
    response = supervisor_web.get(
        "/reports", query_string={"from": "2026-10-31", "to": "2026-10-01"}
    )
    assert response.status_code == 200
    assert "error-box" in response.get_data(as_text=True)


def selected(page: str, select_id: str) -> str | None:
    """The value of the option chosen in a select of the page."""
    body = page[page.index(f'<select id="{select_id}"') :]
    body = body[: body.index("</select>")]
    found = re.search(r'<option value="([^"]*)" selected>', body)
    return found.group(1) if found else None


def test_a_refused_filter_keeps_every_choice_she_made_and_marks_the_wrong_one(supervisor_web):
    first = supervisor_web.get("/reports").get_data(as_text=True)
    places = re.findall(r'<option value="([^"]+)">', first[first.index('id="municipality"') :])
    place = places[3]
    asked = {
        "from": "2026-10-01",
        "to": "2026-10-15",  # half a month: refused
        "municipality": place,
        "by": ["violence_type", "district"],
        "unit": "cases",
    }
    page = supervisor_web.get("/reports", query_string=asked).get_data(as_text=True)
    assert "error-box" in page and "No se pudo contar lo que pidió" in page
    assert 'id="from" name="from" aria-describedby="period-hint" value="2026-10-01"' in page
    assert 'value="2026-10-01" aria-invalid="true"' in page
    assert 'value="2026-10-15" aria-invalid="true"' in page
    assert selected(page, "municipality") == place
    assert selected(page, "by-rows") == "violence_type"
    assert selected(page, "by-columns") == "district"
    assert selected(page, "unit") == "cases"
    assert '<select id="unit" name="unit">' in page  # only the period is marked wrong


def test_a_year_by_month_and_another_dimension_is_refused_on_the_form(supervisor_web):
    asked = {"from": "2026-01-01", "to": "2026-12-31", "by": ["district", "month"], "unit": "cases"}
    response = supervisor_web.get("/reports", query_string=asked)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "No se pudo contar lo que pidió" in page
    assert "En un año, el mes va solo o con un distrito." in page
    assert selected(page, "by-rows") == "district"
    assert selected(page, "by-columns") == "month"
    assert selected(page, "unit") == "cases"


def test_an_accepted_filter_shows_what_is_counted(supervisor_web):
    asked = {"from": "2026-10-01", "to": "2026-10-31", "by": ["violence_type"], "unit": "cases"}
    page = supervisor_web.get("/reports", query_string=asked).get_data(as_text=True)
    assert "No se pudo contar" not in page and "aria-invalid" not in page
    assert 'value="2026-10-01"' in page and 'value="2026-10-31"' in page
    assert selected(page, "municipality") is None
    assert selected(page, "by-rows") == "violence_type"
    assert selected(page, "by-columns") is None
    assert selected(page, "unit") == "cases"


def test_monthly_report_is_printable(client, pnc, health, supervisor_web):
    seed_observatory(client, pnc, health)
    response = supervisor_web.get("/reports/monthly", query_string={"month": "2026-10"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert_nothing_inline(page)
    assert 'media="print"' in page and "css/reports.css" in page
    assert "01/10/2026" in page and "31/10/2026" in page
    assert page.count("<svg") == 2
    assert page.count('<table class="stats">') >= 8


def test_monthly_report_defaults_to_the_last_whole_month(supervisor_web):
    page = supervisor_web.get("/reports/monthly?month=nonsense").get_data(as_text=True)
    assert re.search(r"01/\d\d/\d{4} – \d\d/\d\d/\d{4}", page)


def test_charts_hide_what_the_table_hides():
    bars = str(
        bar_chart("Prueba", [Point("Física", 12), Point("Sexual", "<5"), Point("<script>", "*")])
    )
    # Only the visible count gets a solid bar; the hidden ones a hatched marker (issue 12).
    assert bars.count('fill="#5b2a86"/>') == 1 and bars.count('class="chart-hidden"') == 2
    assert "&lt;5" in bars and "&lt;script&gt;" in bars and "<script>" not in bars
    line = str(
        line_chart("Meses", [Point("ene", 6), Point("feb", "<5"), Point("mar", 7), Point("abr", 9)])
    )
    assert line.count("<circle") == 3
    assert line.count("<polyline") == 1  # broken at the hidden month
    assert "style=" not in bars + line
