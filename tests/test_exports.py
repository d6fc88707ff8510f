"""Exports: no identifying value in any file, formula-looking text defused, supervisors
only for incident-level data, and every download in the audit log."""

from __future__ import annotations

import re

import pytest

from app.directory.models import Municipality
from app.extensions import db
from app.reports.exports import INCIDENT_COLUMNS, safe_cell, write_csv
from tests.observatory_world import health, kept_seeded, pnc, seeded, settings  # noqa: F401
from tests.report_helpers import PERIOD, Seeded, open_cases, read_csv
from tests.test_permissions import sign_in_web

EXPORT = "/api/v1/exports/incidents.csv"
WHOLE_YEAR = {"from": "2026-01-01", "to": "2026-12-31"}
OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}
BIRTH_DATES = ("1990-04-12", "2010-02-01", "12/04/1990", "01/02/2010", "1994-03-15")


def export(client, person, **query):
    return client.get(EXPORT, headers=person.headers, query_string=query or WHOLE_YEAR)


def all_exports(app, client, pnc, supervisor) -> dict[str, str]:
    """Every CSV a user can download: the API's and the dashboard's."""
    web = app.test_client()
    sign_in_web(app, web, supervisor.username)
    files = {
        "api incidents": export(client, supervisor),
        "api stats": client.get(
            "/api/v1/stats",
            headers=pnc.headers,
            query_string={**OCTOBER, "by": "municipality,violence_type", "format": "csv"},
        ),
        "web incidents": web.get("/reports/incidents.csv", query_string=WHOLE_YEAR),
        "web stats": web.get("/reports/stats.csv", query_string={**OCTOBER, "by": "sex"}),
    }
    for name, response in files.items():
        assert response.status_code == 200, name
        assert response.mimetype == "text/csv", name
        assert "attachment" in response.headers["Content-Disposition"], name
    return {name: response.get_data(as_text=True) for name, response in files.items()}


def test_no_identifying_value_in_any_export(app, client, pnc, supervisor, seeded):
    files = all_exports(app, client, pnc, supervisor)
    for name, text in files.items():
        lowered = text.lower()
        for secret in [*seeded.secrets, *BIRTH_DATES, *seeded.case_ids]:
            assert secret.lower() not in lowered, f"{secret!r} in the {name} export"
        for code, _pin in seeded.slips:
            assert code not in text, name
        assert "SON-2026" not in text, f"a case number in the {name} export"


def test_incident_export_has_the_recorder_layout_and_opaque_ids(client, supervisor, seeded):
    rows = read_csv(export(client, supervisor).get_data(as_text=True))
    assert tuple(rows[0]) == INCIDENT_COLUMNS
    assert rows[1][:3] == ["Código del hecho", "Mes de la entrevista", "Mes del hecho"]
    assert len(rows[1]) == len(INCIDENT_COLUMNS) and all(rows[1])
    body = rows[2:]
    assert len(body) == 30  # consenting incidents this year: 14 + 16; the 4 others are out
    codes = [row[0] for row in body]
    assert all(re.fullmatch(r"INC-[0-9A-F]{16}", code) for code in codes)
    assert len(set(codes)) == len(codes)
    months = {row[2] for row in body}
    assert months == {"2026-08", "2026-10"}  # the month only, never the day
    rape = [row for row in body if row[8] == "rape"]
    assert len(rape) == 3
    assert {row[7] for row in rape} == {"12-17"}
    assert {row[9] for row in rape} == {"physical sexual"}
    assert {row[11] for row in rape} == {"child_sexual_abuse"}


def test_incident_codes_are_stable_but_reveal_no_uuid(app, client, supervisor, seeded):
    first = export(client, supervisor).get_data(as_text=True)
    second = export(client, supervisor).get_data(as_text=True)
    assert first == second
    uuids = re.findall(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", first.lower()
    )
    assert uuids == []


def test_referral_services_are_listed(client, pnc, supervisor):
    seeded = Seeded()
    [case_id] = open_cases(client, pnc, seeded, 1, municipality="Sonsonate", types=["physical"])
    items = client.get("/api/v1/institutions", headers=pnc.headers).get_json()["items"]
    hospital = next(i["id"] for i in items if i["code"] == "HOSP-SON")
    sent = client.post(
        f"/api/v1/cases/{case_id}/referrals",
        headers=pnc.headers,
        json={
            "to_institution": hospital,
            "service": "medical",
            "urgency": "priority",
            "consent": True,
        },
    )
    assert sent.status_code == 201
    [_, _labels, row] = read_csv(export(client, supervisor).get_data(as_text=True))
    assert row[13] == "medical"


def test_the_perpetrator_columns_count_the_aggressors_recorded(client, pnc, supervisor):
    seeded = Seeded()
    [case_id] = open_cases(client, pnc, seeded, 1, municipality="Sonsonate", types=["physical"])
    record = client.get(f"/api/v1/cases/{case_id}", headers=pnc.headers).get_json()
    path = f"/api/v1/cases/{case_id}/incidents/{record['incidents'][0]['id']}/aggressors"
    [_, _labels, before] = read_csv(export(client, supervisor).get_data(as_text=True))
    assert before[19:21] == ["1", "partner"]  # the incident's own relationship
    for relationship in ("former_partner", "family"):
        body = {"relationship": relationship, "sex": "M"}
        assert client.post(path, json=body, headers=pnc.headers).status_code == 201
    [_, _labels, row] = read_csv(export(client, supervisor).get_data(as_text=True))
    assert row[19:21] == ["2", "family former_partner"]


def test_formula_looking_text_is_escaped(app, client, pnc, supervisor):
    with app.app_context():
        db.session.add(
            Municipality(code="formula", name='=HYPERLINK("http://x")', department="Sonsonate")
        )
        db.session.commit()
    open_cases(client, pnc, Seeded(), 1, municipality="formula", types=["physical"])
    stats = client.get(
        "/api/v1/stats",
        headers=pnc.headers,
        query_string={**PERIOD, "by": "district", "format": "csv"},
    )
    incidents = export(client, supervisor)
    for response in (stats, incidents):
        text = response.get_data(as_text=True)
        cells = [cell for row in read_csv(text) for cell in row]
        assert '\'=HYPERLINK("http://x")' in cells
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_each_dangerous_start_gets_a_quote(value):
    assert safe_cell(value) == "'" + value
    assert read_csv(write_csv([[value]])) == [["'" + value]]


@pytest.mark.parametrize("value", ["Sonsonate", "<5", "*", "0-3", "31+", "", None, 12])
def test_ordinary_cells_are_left_alone(value):
    assert safe_cell(value) == ("" if value is None else str(value))


def audit_exports(client, supervisor) -> list[dict]:
    response = client.get(
        "/api/v1/audit", headers=supervisor.headers, query_string={"action": "export"}
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_every_export_is_audited(app, client, pnc, supervisor, seeded):
    all_exports(app, client, pnc, supervisor)
    events = audit_exports(client, supervisor)
    kinds = sorted((e["username"], e["object_type"]) for e in events)
    assert kinds == sorted(
        [
            (supervisor.username, "incidents"),
            (pnc.username, "stats"),
            (supervisor.username, "incidents"),
            (supervisor.username, "stats"),
        ]
    )
    incident_events = [e for e in events if e["object_type"] == "incidents"]
    assert all("rows=30" in e["detail"] for e in incident_events)
    assert all("from=2026-01-01" in e["detail"] for e in incident_events)
    stats_events = [e for e in events if e["object_type"] == "stats"]
    assert all("from=2026-10-01" in e["detail"] for e in stats_events)


def test_looking_at_counts_is_not_an_export(client, pnc, supervisor, seeded):
    client.get("/api/v1/stats", headers=pnc.headers, query_string=PERIOD)
    assert audit_exports(client, supervisor) == []


def test_only_supervisors_export_incidents_and_refusals_leave_no_file(
    client, pnc, health, womens, admin, supervisor, seeded
):
    for person in (pnc, health, womens, admin):
        response = export(client, person)
        assert response.status_code == 403
        assert response.mimetype == "application/json"
    assert audit_exports(client, supervisor) == []
