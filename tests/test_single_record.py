"""The single record (expediente único) through the JSON API.

One survivor, one case: intakes at several institutions by DUI or by normalised name and
birth date land on the same case; institutions that are not parties never learn it exists.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.cli.demo import INSTITUTIONS, KIND_SERVICES
from app.core.time import local_today
from app.extensions import db
from tests.conftest import Person
from tests.factories import OTHER_DUI, VALID_DUI, incident, intake

CASE_NUMBER = re.compile(r"^SON-(\d{4})-(\d{6})$")


# ---- helpers ---------------------------------------------------------------------------


def open_case(client: FlaskClient, person: Person, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/cases", json=body, headers=person.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def case_view_events(app: Flask, case_id: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        stmt = select(AuditEvent).where(AuditEvent.action == "case_view").order_by(AuditEvent.id)
        if case_id is not None:
            stmt = stmt.where(AuditEvent.case_id == uuid.UUID(case_id))
        events = list(db.session.execute(stmt).scalars())
        for event in events:
            db.session.expunge(event)
        return events


def read_case(app: Flask, client: FlaskClient, person: Person, case_id: str) -> dict[str, Any]:
    """GET the case and check the read left exactly one `case_view` event by this user."""
    before = len(case_view_events(app))
    response = client.get(f"/api/v1/cases/{case_id}", headers=person.headers)
    assert response.status_code == 200, response.get_json()
    events = case_view_events(app)
    assert len(events) == before + 1
    event = events[-1]
    assert str(event.case_id) == case_id
    assert event.username == person.username
    assert event.institution == person.institution
    return response.get_json()


def search(client: FlaskClient, person: Person, **body: str) -> list[dict[str, Any]]:
    """POST /api/v1/cases/search: identifiers travel in the body, never in the URL."""
    response = client.post("/api/v1/cases/search", json=body, headers=person.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def row_count(app: Flask, model: Any) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


@pytest.fixture
def hospital(make_person) -> Person:
    return make_person("health_staff", "HOSP-SON", "hospital.test")


@pytest.fixture
def outsider(make_person) -> Person:
    """A PNC agent of Acajutla: a case role, but never a party to the cases below."""
    return make_person("pnc_agent", "PNC-ACA", "agente.acajutla")


# ---- one survivor, three institutions, one record ---------------------------------------


def test_three_intakes_by_dui_then_by_rewritten_name_share_one_case(
    app, client, pnc, health, hospital
):
    first = open_case(client, pnc, intake())
    second = open_case(
        client,
        health,
        intake(incident_overrides={"occurred_on": "2026-11-02", "violence_types": ["sexual"]}),
    )
    third = open_case(
        client,
        hospital,
        intake(
            survivor_overrides={
                "dui": ...,
                "given_names": "MARIA  JOSE",
                "family_names": "lopez hernandez",
                "phone": ...,
            },
            incident_overrides={"occurred_on": "2026-11-10", "violence_types": ["physical"]},
        ),
    )

    assert first["id"] == second["id"] == third["id"]
    assert first["number"] == second["number"] == third["number"]
    assert [first["matched_existing"], second["matched_existing"], third["matched_existing"]] == [
        False,
        True,
        True,
    ]
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}", first["status_code"])
    assert re.fullmatch(r"\d{6}", first["status_pin"])
    for later in (second, third):
        assert "status_code" not in later
        assert "status_pin" not in later

    record = read_case(app, client, hospital, first["id"])
    assert len(record["incidents"]) == 3
    assert sorted(i["entry_institution"] for i in record["incidents"]) == [
        "HOSP-SON",
        "PNC-SON",
        "US-SON",
    ]
    assert {(p["institution"], p["reason"]) for p in record["parties"]} == {
        ("PNC-SON", "opened"),
        ("US-SON", "matched_intake"),
        ("HOSP-SON", "matched_intake"),
    }
    assert len(record["parties"]) == 3
    assert all(p["ended_at"] is None for p in record["parties"])
    # The record keeps the identity as first written; a later spelling does not overwrite it.
    assert record["survivor"]["given_names"] == "María José"
    assert record["survivor"]["family_names"] == "López Hernández"
    assert record["survivor"]["dui"] == VALID_DUI
    # Every party reads the same record.
    for person in (pnc, health):
        assert read_case(app, client, person, first["id"])["id"] == first["id"]


def test_the_same_institution_intaking_twice_stays_one_party(app, client, pnc):
    first = open_case(client, pnc, intake())
    again = open_case(client, pnc, intake(incident_overrides={"occurred_on": "2026-11-01"}))
    assert again["id"] == first["id"]
    assert again["matched_existing"] is True
    record = read_case(app, client, pnc, first["id"])
    assert len(record["incidents"]) == 2
    assert [(p["institution"], p["reason"]) for p in record["parties"]] == [("PNC-SON", "opened")]


def test_a_dui_typed_without_hyphen_still_finds_the_record(app, client, pnc, womens):
    first = open_case(client, pnc, intake())
    second = open_case(client, womens, intake(survivor_overrides={"dui": " 123456784 "}))
    assert second["id"] == first["id"]
    assert second["matched_existing"] is True


def test_institution_that_is_not_a_party_cannot_find_read_or_add_to_the_case(
    app, client, pnc, health, outsider
):
    created = open_case(client, pnc, intake())
    open_case(client, health, intake())
    case_id = created["id"]

    assert search(client, outsider, dui=VALID_DUI) == []
    assert (
        search(client, outsider, name="María José López Hernández", birth_date="1994-03-15") == []
    )

    unknown = client.get(f"/api/v1/cases/{uuid.uuid4()}", headers=outsider.headers)
    hidden = client.get(f"/api/v1/cases/{case_id}", headers=outsider.headers)
    assert hidden.status_code == unknown.status_code == 404
    # The answer for a hidden case is the answer for a case that does not exist.
    assert hidden.get_json() == unknown.get_json()
    assert set(hidden.get_json()) == {"error", "message", "fields"}

    added = client.post(
        f"/api/v1/cases/{case_id}/incidents", json=incident(), headers=outsider.headers
    )
    assert added.status_code == 404, added.get_json()
    assert case_view_events(app, case_id) == []

    # The parties, meanwhile, do find it and see only the two incidents they recorded.
    assert [c["id"] for c in search(client, pnc, dui=VALID_DUI)] == [case_id]
    assert [c["id"] for c in search(client, health, dui=VALID_DUI)] == [case_id]
    record = read_case(app, client, health, case_id)
    assert len(record["incidents"]) == 2
    assert "PNC-ACA" not in {p["institution"] for p in record["parties"]}


def test_search_by_name_is_normalised_and_exact(app, client, pnc):
    created = open_case(client, pnc, intake())
    for name in (
        "María José López Hernández",
        "MARIA  JOSE lopez HERNANDEZ",
        "maria jose lopez hernandez",
    ):
        found = search(client, pnc, name=name, birth_date="1994-03-15")
        assert [c["id"] for c in found] == [created["id"]], name
    assert search(client, pnc, name="María López Hernández", birth_date="1994-03-15") == []
    assert search(client, pnc, name="María José López Hernández", birth_date="1994-03-16") == []
    assert search(client, pnc, dui=OTHER_DUI) == []


def test_same_name_and_birth_date_with_a_different_dui_is_another_woman(app, client, pnc, health):
    first = open_case(client, pnc, intake())
    other = open_case(client, health, intake(survivor_overrides={"dui": OTHER_DUI}))
    assert other["matched_existing"] is False
    assert other["id"] != first["id"]
    assert other["number"] != first["number"]
    assert "status_code" in other and other["status_code"] != first["status_code"]

    # Each record keeps its own DUI and one incident; neither institution joined the other.
    assert read_case(app, client, pnc, first["id"])["survivor"]["dui"] == VALID_DUI
    theirs = read_case(app, client, health, other["id"])
    assert theirs["survivor"]["dui"] == OTHER_DUI
    assert len(theirs["incidents"]) == 1
    assert client.get(f"/api/v1/cases/{first['id']}", headers=health.headers).status_code == 404
    assert [c["id"] for c in search(client, health, dui=OTHER_DUI)] == [other["id"]]
    assert search(client, health, dui=VALID_DUI) == []


def test_a_dui_brought_later_completes_a_record_found_by_name(app, client, womens, health):
    without = open_case(client, womens, intake(survivor_overrides={"dui": ...}))
    assert search(client, womens, dui=VALID_DUI) == []

    with_dui = open_case(client, health, intake(survivor_overrides={"given_names": "maria jose"}))
    assert with_dui["id"] == without["id"]
    assert with_dui["matched_existing"] is True
    assert "status_code" not in with_dui

    assert [c["id"] for c in search(client, womens, dui=VALID_DUI)] == [without["id"]]
    assert [c["id"] for c in search(client, health, dui=VALID_DUI)] == [without["id"]]
    assert read_case(app, client, womens, without["id"])["survivor"]["dui"] == VALID_DUI

    # From now on the DUI is the key: a third intake by DUI alone, another name, joins too.
    third = open_case(
        client,
        womens,
        intake(survivor_overrides={"given_names": "Otra", "family_names": "Persona"}),
    )
    assert third["id"] == without["id"]


def test_name_and_birth_date_match_needs_the_same_birth_date(app, client, pnc, health):
    first = open_case(client, pnc, intake(survivor_overrides={"dui": ...}))
    other = open_case(
        client, health, intake(survivor_overrides={"dui": ..., "birth_date": "1994-03-16"})
    )
    assert other["matched_existing"] is False
    assert other["id"] != first["id"]


def test_a_name_split_differently_between_given_and_family_names_still_matches(
    app, client, pnc, health
):
    first = open_case(client, pnc, intake(survivor_overrides={"dui": ...}))
    again = open_case(
        client,
        health,
        intake(
            survivor_overrides={
                "dui": ...,
                "given_names": "María",
                "family_names": "José López-Hernández",
            }
        ),
    )
    assert again["id"] == first["id"]
    assert again["matched_existing"] is True


@pytest.mark.parametrize(
    ("first_name", "second_name"),
    [
        (("Анна", "Иванова"), ("Мария", "Петрова")),
        (("Anna", "Иванова"), ("Anna", "Петрова")),
        (("Łucja", "Ruiz"), ("Ucja", "Ruiz")),
        (("---", "..."), ("***", "___")),
    ],
    ids=["cyrillic", "half-cyrillic", "unsplittable-letter", "punctuation-only"],
)
def test_different_names_that_fold_to_the_same_latin_text_are_never_merged(
    app, client, pnc, health, first_name, second_name
):
    """Another woman's incident must never land in this one's record, nor her institution
    become a party to it."""
    given, family = first_name
    first = client.post(
        "/api/v1/cases",
        json=intake(survivor_overrides={"dui": ..., "given_names": given, "family_names": family}),
        headers=pnc.headers,
    )
    given, family = second_name
    second = client.post(
        "/api/v1/cases",
        json=intake(survivor_overrides={"dui": ..., "given_names": given, "family_names": family}),
        headers=health.headers,
    )
    assert first.status_code in (201, 422) and second.status_code in (201, 422)
    if first.status_code == second.status_code == 201:
        assert second.get_json()["matched_existing"] is False
        assert second.get_json()["id"] != first.get_json()["id"]
        assert (
            client.get(
                f"/api/v1/cases/{first.get_json()['id']}", headers=health.headers
            ).status_code
            == 404
        )


# ---- numbering and minors ---------------------------------------------------------------


def test_case_numbers_are_department_year_and_a_consecutive_sequence(app, client, pnc, health):
    year = local_today().year
    first = open_case(client, pnc, intake())
    # A matched intake and a refused one take no number.
    open_case(client, health, intake())
    refused = client.post(
        "/api/v1/cases",
        json=intake(
            survivor_overrides={"dui": OTHER_DUI}, incident_overrides={"violence_types": []}
        ),
        headers=pnc.headers,
    )
    assert refused.status_code == 422
    second = open_case(client, health, intake(survivor_overrides={"dui": OTHER_DUI}))
    third = open_case(
        client,
        pnc,
        intake(survivor_overrides={"dui": ..., "given_names": "Ana", "birth_date": "2001-01-01"}),
    )

    sequences = []
    for created in (first, second, third):
        match = CASE_NUMBER.fullmatch(created["number"])
        assert match, created["number"]
        assert int(match.group(1)) == year
        sequences.append(int(match.group(2)))
    assert sequences == [sequences[0], sequences[0] + 1, sequences[0] + 2]
    assert sequences[0] == 1


def test_a_minor_is_a_mandatory_report_case_and_an_adult_is_not(app, client, pnc):
    today = local_today()
    minor = open_case(
        client,
        pnc,
        intake(
            survivor_overrides={
                "dui": ...,
                "given_names": "Niña",
                "birth_date": (years_before(today, 15)).isoformat(),
            },
            incident_overrides={"occurred_on": today.isoformat()},
        ),
    )
    adult = open_case(client, pnc, intake())
    assert read_case(app, client, pnc, minor["id"])["mandatory_report"] is True
    assert read_case(app, client, pnc, adult["id"])["mandatory_report"] is False


def test_mandatory_report_turns_on_the_eighteenth_birthday(app, client, pnc):
    today = local_today()
    eighteen_today = years_before(today, 18)
    eighteen_tomorrow = years_before(today + timedelta(days=1), 18)
    turned = open_case(
        client,
        pnc,
        intake(
            survivor_overrides={
                "dui": ...,
                "given_names": "Cumple",
                "birth_date": eighteen_today.isoformat(),
            },
            incident_overrides={"occurred_on": today.isoformat()},
        ),
    )
    not_yet = open_case(
        client,
        pnc,
        intake(
            survivor_overrides={
                "dui": ...,
                "given_names": "Casi",
                "birth_date": eighteen_tomorrow.isoformat(),
            },
            incident_overrides={"occurred_on": today.isoformat()},
        ),
    )
    assert read_case(app, client, pnc, turned["id"])["mandatory_report"] is False
    assert read_case(app, client, pnc, not_yet["id"])["mandatory_report"] is True


# ---- the audit of reads ------------------------------------------------------------------


def test_every_read_of_a_case_writes_a_case_view_event(app, client, pnc, health):
    created = open_case(client, pnc, intake())
    open_case(client, health, intake())
    case_id = created["id"]
    assert case_view_events(app, case_id) == []  # opening and joining are not reads

    read_case(app, client, pnc, case_id)
    read_case(app, client, health, case_id)
    read_case(app, client, pnc, case_id)

    events = case_view_events(app, case_id)
    assert [(e.username, e.institution, e.role) for e in events] == [
        (pnc.username, "PNC-SON", "pnc_agent"),
        (health.username, "US-SON", "health_staff"),
        (pnc.username, "PNC-SON", "pnc_agent"),
    ]
    assert all(e.object_type == "case" and e.object_id == case_id for e in events)
    # Searching lists summaries; it is its own event, never a case_view.
    search(client, pnc, dui=VALID_DUI)
    assert len(case_view_events(app, case_id)) == 3


def test_audit_events_carry_no_case_content(app, client, pnc):
    created = open_case(client, pnc, intake())
    read_case(app, client, pnc, created["id"])
    search(client, pnc, name="María José López Hernández", birth_date="1994-03-15")
    with app.app_context():
        events = db.session.execute(select(AuditEvent)).scalars().all()
        text = " ".join(
            str(value)
            for event in events
            for value in (event.object_id, event.reason, event.detail, event.object_type)
        ).lower()
    for secret in ("maría", "maria", "lópez", "lopez", VALID_DUI, "1994-03-15", "relato"):
        assert secret.lower() not in text


def test_failed_reads_leave_no_case_view(app, client, pnc, outsider, admin):
    created = open_case(client, pnc, intake())
    client.get(f"/api/v1/cases/{created['id']}", headers=outsider.headers)
    client.get(f"/api/v1/cases/{created['id']}", headers=admin.headers)
    client.get(f"/api/v1/cases/{created['id']}")
    assert case_view_events(app) == []


# ---- roles without case access -----------------------------------------------------------


SURVIVOR_SECRETS = (
    "María",
    "López",
    VALID_DUI,
    "1994-03-15",
    "7777-1234",
    "Palmeras",
    "Relato confidencial",
)


def _refused(response: Any) -> None:
    assert response.status_code == 403, response.get_json()
    body = response.get_json()
    assert set(body) == {"error", "message", "fields"}
    assert body["error"] == "forbidden"


def last_action(app) -> str:
    with app.app_context():
        stmt = select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1)
        return db.session.execute(stmt).scalar_one()


@pytest.mark.parametrize("who", ["admin", "supervisor"])
def test_admin_and_supervisor_may_not_open_search_or_add_to_cases(app, client, pnc, who, request):
    person: Person = request.getfixturevalue(who)
    created = open_case(client, pnc, intake())
    events_before = row_count(app, AuditEvent)

    opened = client.post(
        "/api/v1/cases", json=intake(survivor_overrides={"dui": OTHER_DUI}), headers=person.headers
    )
    by_dui = client.post("/api/v1/cases/search", json={"dui": VALID_DUI}, headers=person.headers)
    by_name = client.post(
        "/api/v1/cases/search",
        json={"name": "María José López Hernández", "birth_date": "1994-03-15"},
        headers=person.headers,
    )
    add = client.post(
        f"/api/v1/cases/{created['id']}/incidents", json=incident(), headers=person.headers
    )
    for response in (opened, by_dui, by_name, add):
        _refused(response)

    # Nothing opened or searched, the existing case untouched; the refused write on her
    # case is on the record as `access_denied`.
    assert row_count(app, AuditEvent) == events_before + 1
    assert last_action(app) == "access_denied"
    assert search(client, pnc, dui=OTHER_DUI) == []
    assert len(read_case(app, client, pnc, created["id"])["incidents"]) == 1


def test_admin_may_not_read_a_case(app, client, pnc, admin):
    created = open_case(client, pnc, intake())
    _refused(client.get(f"/api/v1/cases/{created['id']}", headers=admin.headers))
    assert case_view_events(app) == []


def test_supervisor_reading_a_case_without_break_glass_sees_no_survivor_content(
    app, client, pnc, supervisor
):
    """403, or (the metadata view) a body without identity or narrative; either way audited
    when anything is answered."""
    created = open_case(client, pnc, intake())
    before = len(case_view_events(app))
    response = client.get(f"/api/v1/cases/{created['id']}", headers=supervisor.headers)
    text = response.get_data(as_text=True)
    for secret in SURVIVOR_SECRETS:
        assert secret not in text
    if response.status_code == 403:
        _refused(response)
        assert len(case_view_events(app)) == before
        return
    assert response.status_code == 200, text
    body = response.get_json()
    assert body["id"] == created["id"]
    assert "survivor" not in body and "incidents" not in body
    events = case_view_events(app, created["id"])
    assert len(events) == before + 1
    assert events[-1].username == supervisor.username


# ---- the network directory ---------------------------------------------------------------


# DOMAIN.md's network of 17, a shelter and Santa Ana's six (issue 13's second department).
DEMO_INSTITUTIONS = 24


def test_institutions_directory_lists_the_demo_network_with_services(client, pnc):
    response = client.get("/api/v1/institutions", headers=pnc.headers)
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert len(items) == DEMO_INSTITUTIONS
    by_code = {item["code"]: item for item in items}
    expected = {code: (name, kind) for code, name, kind, _ in INSTITUTIONS}
    assert set(by_code) == set(expected)
    for code, (name, kind) in expected.items():
        item = by_code[code]
        assert {"id", "code", "name", "kind", "municipality", "services"} <= set(item)
        assert isinstance(item["id"], int)
        assert (item["name"], item["kind"]) == (name, kind)
        assert sorted(item["services"]) == sorted(KIND_SERVICES[kind])
    assert by_code["PNC-ACA"]["municipality"] == "acajutla"
    assert "forensic_exam" in by_code["IML-SON"]["services"]
    assert "police_complaint" in by_code["PNC-SON"]["services"]
    assert by_code["SYS"]["services"] == []
    assert len({item["id"] for item in items}) == DEMO_INSTITUTIONS


@pytest.mark.parametrize("who", ["supervisor", "admin", "womens"])
def test_any_user_may_read_the_directory(client, who, request):
    person: Person = request.getfixturevalue(who)
    response = client.get("/api/v1/institutions", headers=person.headers)
    assert response.status_code == 200
    assert len(response.get_json()["items"]) == DEMO_INSTITUTIONS


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic YWdlbnRlOnBhc3M="},
    ],
    ids=["none", "empty", "unknown", "basic"],
)
def test_the_directory_needs_a_token(client, headers):
    response = client.get("/api/v1/institutions", headers=headers)
    assert response.status_code == 401
    assert response.is_json
    assert set(response.get_json()) == {"error", "message", "fields"}
    assert "items" not in response.get_json()
