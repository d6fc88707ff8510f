"""De-identified counts: equal to a table computed by hand, small cells hidden so they
cannot be computed back, and only cases that consented to statistics."""

from __future__ import annotations

import random

import pytest

from app.reports.dimensions import DIMENSIONS
from app.reports.suppression import TOTAL, Grid, shown_values, single_hidden_lines
from tests.observatory_world import health, kept_seeded, pnc, seeded, settings  # noqa: F401
from tests.report_helpers import PERIOD, get_stats, grid, lines_of, read_csv

BY_PLACE_AND_TYPE = "district,violence_type"


def test_counts_equal_the_table_computed_by_hand(client, pnc, seeded):
    payload = get_stats(client, pnc, by=BY_PLACE_AND_TYPE)
    assert [c["key"] for c in payload["columns"]] == ["physical", "psychological", "sexual"]
    assert [r["key"] for r in payload["rows"]] == ["acajutla", "sonsonate"]
    # By hand (README of the seed): Acajutla 6+1 physical, 7 psychological; Sonsonate
    # 6+3 physical, 5 psychological, 3 sexual. The 3 is "<5"; the 5 beside it and the
    # psychological total are hidden too, or 17 − 9 − 5 would give the 3 back.
    assert grid(payload) == {
        "Acajutla": [7, 7, 0, 14],
        "Sonsonate": [9, "*", "<5", 17],
        "Total": [16, "*", "<5", 31],
    }


def test_one_dimension_counts_incidents(client, pnc, seeded):
    payload = get_stats(client, pnc, by="district")
    assert grid(payload) == {"Acajutla": [14], "Sonsonate": [14], "Total": [28]}


def test_the_2024_municipality_and_the_department_group_the_districts(client, pnc, seeded):
    # Acajutla is Sonsonate Oeste on its own; the district of Sonsonate is in Sonsonate Centro.
    by_municipality = get_stats(client, pnc, by="municipality")
    assert [r["key"] for r in by_municipality["rows"]] == ["SO-CENTRO", "SO-OESTE"]
    assert grid(by_municipality) == {
        "Sonsonate Centro": [14],
        "Sonsonate Oeste": [14],
        "Total": [28],
    }
    by_department = get_stats(client, pnc, by="department,violence_type")
    # One department: its row is the totals line of the district table above.
    assert grid(by_department) == {"Sonsonate": [16, "*", "<5", 31], "Total": [16, "*", "<5", 31]}


def test_counting_cases_counts_each_survivor_once(client, pnc, seeded):
    payload = get_stats(client, pnc, by="district", unit="cases")
    assert grid(payload) == {"Acajutla": [13], "Sonsonate": [14], "Total": [27]}


def test_a_cell_of_three_is_under_five_and_not_recoverable_from_the_totals(client, pnc, seeded):
    for by in (BY_PLACE_AND_TYPE, "violence_type", "violence_type,district"):
        payload = get_stats(client, pnc, by=by)
        cells = str(payload)
        assert "'<5'" in cells and " 3," not in cells and " 3]" not in cells, by
        for line in lines_of(payload):
            hidden = [value for value in line if isinstance(value, str)]
            assert len(hidden) != 1, f"{by}: {line} gives its hidden cell back"
    one_way = get_stats(client, pnc, by="violence_type")
    assert grid(one_way) == {
        "Física": [16],
        "Psicológica y emocional": ["*"],
        "Sexual": ["<5"],
        "Total": [31],
    }


def test_cases_without_statistics_consent_are_left_out(client, pnc, seeded):
    # The four sexual-violence cases without consent would make the sexual column 7.
    payload = get_stats(client, pnc, by="violence_type", unit="cases")
    assert grid(payload)["Sexual"] == ["<5"]
    assert grid(payload)["Total"] == [30]  # a case with two types counts under each


def test_revoking_consent_takes_the_case_out_at_once(client, pnc, health, seeded):
    before = get_stats(client, pnc, by="district")
    acajutla_case = seeded.case_ids[14]  # the first Acajutla case: two incidents
    revoked = client.post(
        f"/api/v1/cases/{acajutla_case}/consent",
        headers=health.headers,
        json={"share_with_network": True, "statistics": False},
    )
    assert revoked.status_code == 201, revoked.get_json()
    after = get_stats(client, pnc, by="district")
    assert grid(before)["Acajutla"] == [14]
    assert grid(after)["Acajutla"] == [12]


def test_incidents_outside_the_period_are_left_out(client, pnc, seeded):
    october = get_stats(client, pnc, by="month")
    assert grid(october) == {"octubre 2026": [28], "Total": [28]}
    september = get_stats(client, pnc, by="district", **{"from": "2026-09-01", "to": "2026-09-30"})
    assert september["rows"] == [] and september["total"] == 0
    august = get_stats(client, pnc, by="district", **{"from": "2026-08-01", "to": "2026-08-31"})
    assert grid(august) == {"Acajutla": ["<5"], "Total": ["<5"]}


def test_a_year_is_published_with_its_months_as_they_publish_themselves(client, pnc, seeded):
    whole_year = {"from": "2026-01-01", "to": "2026-12-31"}
    year = get_stats(client, pnc, by="month", **whole_year)
    assert [r["key"] for r in year["rows"]] == [f"2026-{m:02d}" for m in range(1, 13)]
    assert grid(year)["agosto 2026"] == ["<5"]
    assert grid(year)["septiembre 2026"] == [0]
    assert grid(year)["octubre 2026"] == [28]
    # A lone hidden month would be the total less the others: the total goes with it.
    assert year["total"] == "*"
    by_place = get_stats(client, pnc, by="month", municipality="Acajutla", **whole_year)
    assert grid(by_place)["agosto 2026"] == ["<5"] and grid(by_place)["octubre 2026"] == [14]
    assert by_place["total"] == "*"
    by_district = get_stats(client, pnc, by="district", **whole_year)
    # Sonsonate had incidents in October only: its months give its year, which is shown.
    assert grid(by_district) == {"Acajutla": ["*"], "Sonsonate": [14], "Total": ["*"]}


def test_municipality_filter_by_code_or_name(client, pnc, seeded):
    by_code = get_stats(client, pnc, by="violence_type", municipality="acajutla")
    by_name = get_stats(client, pnc, by="violence_type", municipality="ACAJUTLA")
    assert (
        grid(by_code)
        == grid(by_name)
        == {"Física": [7], "Psicológica y emocional": [7], "Total": [14]}
    )


def test_entry_institution_and_gbvims_type(client, pnc, seeded):
    entry = get_stats(client, pnc, by="entry_institution_kind,district")
    assert grid(entry) == {
        "Policía (unidad de familia)": [0, 14, 14],
        "Salud": [14, 0, 14],
        "Total": [14, 14, 28],
    }
    gbvims = get_stats(client, pnc, by="gbvims_type")
    # The three sexual incidents with penetration are rape; physical wins over psychological.
    assert grid(gbvims) == {
        "Violación": ["<5"],
        "Agresión física": [13],
        "Abuso psicológico o emocional": ["*"],
        "Total": [28],
    }


@pytest.mark.parametrize("dimension", sorted(DIMENSIONS))
def test_every_dimension_counts_and_protects(client, pnc, seeded, dimension):
    other = "municipality" if dimension != "municipality" else "violence_type"
    for by in (dimension, f"{dimension},{other}"):
        payload = get_stats(client, pnc, by=by)
        assert payload["total"] != 0, by
        for line in lines_of(payload):
            assert sum(isinstance(v, str) for v in line) != 1, f"{by}: {line}"


def test_the_csv_is_the_same_table(client, pnc, seeded):
    payload = get_stats(client, pnc, by=BY_PLACE_AND_TYPE)
    response = client.get(
        "/api/v1/stats",
        headers=pnc.headers,
        query_string={**PERIOD, "by": BY_PLACE_AND_TYPE, "format": "csv"},
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = read_csv(response.get_data(as_text=True))
    assert rows[0] == [
        "Distrito / Tipo de violencia (LEIV)",
        "Física",
        "Psicológica y emocional",
        "Sexual",
        "Total",
    ]
    assert {row[0]: row[1:] for row in rows[1:]} == {
        label: [str(v) for v in values] for label, values in grid(payload).items()
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"by": "name"}, "by"),
        ({"by": "municipality,violence_type,sex"}, "by"),
        ({"by": "sex,sex"}, "by"),
        ({"from": "2026-10-31", "to": "2026-10-01"}, "from"),
        ({"from": "ayer"}, "from"),
        ({"from": "2026-10-02", "to": "2026-10-31"}, "from"),
        ({"from": "2026-09-01", "to": "2026-10-31"}, "from"),
        ({"from": "2026-01-01", "to": "2026-12-31", "by": "district,month"}, "by"),
        ({"from": "2025-01-01", "to": "2026-12-31"}, "from"),
        ({"by": "district,sex", "municipality": "Acajutla"}, "municipality"),
        ({"unit": "women"}, "unit"),
        ({"municipality": "Atlántida"}, "municipality"),
    ],
)
def test_bad_queries_are_422_with_the_field(client, pnc, query, field):
    response = client.get("/api/v1/stats", query_string=query, headers=pnc.headers)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["fields"]


def test_statistics_need_a_token(client):
    assert client.get("/api/v1/stats").status_code == 401
    assert client.get("/api/v1/stats/indicators").status_code == 401


# ---- the suppression rule alone ---------------------------------------------------------


def random_grid(rng: random.Random, rows: int, columns: int) -> Grid:
    row_keys = [f"r{i}" for i in range(rows)]
    column_keys = [f"c{j}" for j in range(columns)]
    counts = {}
    for r in row_keys:
        for c in column_keys or [TOTAL]:
            counts[(r, c)] = rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 9, 12, 30])
    return Grid(row_keys, column_keys, counts)


@pytest.mark.parametrize("seed", range(200))
def test_no_line_of_a_random_table_keeps_a_single_hidden_cell(seed):
    rng = random.Random(seed)
    table = random_grid(rng, rng.randint(1, 6), rng.choice([0, 1, 2, 3, 5]))
    shown = shown_values(table)
    assert single_hidden_lines(table, shown) == []
    for entry, value in shown.items():
        true = table.value(entry)
        if 0 < true < 5:
            assert value == "<5"
        elif value not in ("<5", "*"):
            assert value == true
        assert value != "*" or true >= 5  # a complementary cell is never a small one


def test_zeros_stay_visible_and_are_never_the_complement():
    table = Grid(
        ["a", "b"], ["x", "y"], {("a", "x"): 3, ("a", "y"): 0, ("b", "x"): 8, ("b", "y"): 20}
    )
    shown = shown_values(table)
    assert shown[("a", "y")] == 0
    assert shown[("a", "x")] == "<5"
    assert shown[("a", TOTAL)] == "<5"  # 3 + 0: the row total is itself small
    assert shown[("b", "x")] == "*"  # column x would give the 3 back from 11 − 8


def test_a_districts_table_is_its_row_of_the_table_by_district(client, pnc, seeded):
    # Alone, Sonsonate's table would show the 5 psychological: 17 − 9 − 5 gives the 3 back
    # beside its row of the table by district, which hides the 5.
    row = grid(get_stats(client, pnc, by=BY_PLACE_AND_TYPE))["Sonsonate"]
    alone = get_stats(client, pnc, by="violence_type", municipality="Sonsonate")
    assert row == [9, "*", "<5", 17]
    assert grid(alone) == {
        "Física": [9],
        "Psicológica y emocional": ["*"],
        "Sexual": ["<5"],
        "Total": [17],
    }
