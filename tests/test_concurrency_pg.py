"""Intakes racing each other on PostgreSQL: numbers never repeat, one survivor stays one case.

Each thread has its own app context (so its own database session and connection) and its
own test client; a barrier releases them together.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.audit.service import verify_chain
from app.cases.models import Case, CaseParty, Incident, Survivor
from app.cases.validators import DUI_WEIGHTS
from app.extensions import db
from tests.conftest import USING_PG, Person
from tests.factories import intake

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not USING_PG,
        reason="needs PostgreSQL (TEST_DATABASE_URL=postgresql+psycopg://...): SQLite "
        "serialises every writer, so there is no race to test",
    ),
]

CASE_NUMBER = re.compile(r"^SON-\d{4}-(\d{6})$")
JOIN_TIMEOUT = 60


def make_dui(body: str) -> str:
    total = sum(int(d) * w for d, w in zip(body, DUI_WEIGHTS, strict=True))
    return f"{body}-{(10 - total % 10) % 10}"


def race(app: Flask, calls: list[tuple[Person, dict[str, Any]]]) -> list[tuple[int, Any]]:
    """POST every intake at once, one thread each; answers in the order of `calls`."""
    barrier = threading.Barrier(len(calls), timeout=JOIN_TIMEOUT)
    results: list[tuple[int, Any] | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def work(index: int, person: Person, body: dict[str, Any]) -> None:
        try:
            with app.app_context():
                client = app.test_client()
                barrier.wait()
                response = client.post("/api/v1/cases", json=body, headers=person.headers)
                results[index] = (response.status_code, response.get_json())
                db.session.remove()
        except BaseException as error:  # reported by the main thread
            errors.append(error)
            barrier.abort()

    threads = [
        threading.Thread(target=work, args=(i, person, body), daemon=True)
        for i, (person, body) in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "an intake hung (deadlock?)"
    assert not errors, errors
    assert all(result is not None for result in results)
    for status, body in results:  # type: ignore[misc]
        assert status == 201, body
    return results  # type: ignore[return-value]


def counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Case, Survivor, Incident, CaseParty)
        }


def parties(app: Flask, case_id: str) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(CaseParty).where(CaseParty.case_id == case_id).order_by(CaseParty.id)
        ).scalars()
        return [(row.institution.code, row.reason) for row in rows]


def audit_chain_is_intact(app: Flask) -> bool:
    with app.app_context():
        return verify_chain(db.session, app.extensions["ruta.keyring"].audit_key).ok


def assert_one_case(results: list[tuple[int, Any]]) -> dict[str, Any]:
    bodies = [body for _, body in results]
    assert len({body["id"] for body in bodies}) == 1, bodies
    assert len({body["number"] for body in bodies}) == 1
    flags = Counter(body["matched_existing"] for body in bodies)
    assert flags == {False: 1, True: len(bodies) - 1}, flags
    opened = [body for body in bodies if body["matched_existing"] is False]
    assert "status_code" in opened[0] and "status_pin" in opened[0]
    assert sum("status_code" in body for body in bodies) == 1
    return opened[0]


def test_eight_simultaneous_intakes_of_different_survivors_get_eight_numbers(app, make_person):
    people = [
        make_person("pnc_agent", "PNC-SON"),
        make_person("health_staff", "US-SON"),
        make_person("health_staff", "HOSP-SON"),
        make_person("womens_office", "UMM-SON"),
    ]
    calls = [
        (
            people[i % len(people)],
            intake(
                survivor_overrides={
                    "dui": make_dui(f"{i + 1:02d}345678"),
                    "given_names": f"Sobreviviente {i}",
                    "birth_date": f"19{80 + i}-05-0{i + 1}",
                }
            ),
        )
        for i in range(8)
    ]
    results = race(app, calls)

    bodies = [body for _, body in results]
    assert all(body["matched_existing"] is False for body in bodies)
    assert len({body["id"] for body in bodies}) == 8
    numbers = [body["number"] for body in bodies]
    assert len(set(numbers)) == 8
    sequences = sorted(int(CASE_NUMBER.fullmatch(n).group(1)) for n in numbers)  # type: ignore[union-attr]
    assert sequences == list(range(1, 9))  # no repeats, no gaps
    assert len({body["status_code"] for body in bodies}) == 8
    assert counts(app) == {"Case": 8, "Survivor": 8, "Incident": 8, "CaseParty": 8}
    assert audit_chain_is_intact(app)


def test_six_simultaneous_intakes_of_one_survivor_by_dui_make_one_case(app, pnc, health):
    calls = [
        (
            pnc if i % 2 == 0 else health,
            intake(incident_overrides={"occurred_on": f"2026-10-{10 + i}"}),
        )
        for i in range(6)
    ]
    results = race(app, calls)

    opened = assert_one_case(results)
    assert counts(app) == {"Case": 1, "Survivor": 1, "Incident": 6, "CaseParty": 2}
    opener = calls[[body for _, body in results].index(opened)][0].institution
    joiner = ({"PNC-SON", "US-SON"} - {opener}).pop()
    assert sorted(parties(app, opened["id"])) == sorted(
        [(opener, "opened"), (joiner, "matched_intake")]
    )
    record = _read(app, pnc, opened["id"])
    assert len(record["incidents"]) == 6
    assert audit_chain_is_intact(app)


def test_six_simultaneous_intakes_by_name_and_birth_date_without_dui_make_one_case(
    app, pnc, health
):
    spellings = [
        ("María José", "López Hernández"),
        ("MARIA  JOSE", "LOPEZ HERNANDEZ"),
        ("maria jose", "lopez hernandez"),
    ]
    calls = []
    for i in range(6):
        given, family = spellings[i % len(spellings)]
        calls.append(
            (
                pnc if i % 2 == 0 else health,
                intake(
                    survivor_overrides={"dui": ..., "given_names": given, "family_names": family}
                ),
            )
        )
    results = race(app, calls)

    opened = assert_one_case(results)
    assert counts(app) == {"Case": 1, "Survivor": 1, "Incident": 6, "CaseParty": 2}
    assert {code for code, _ in parties(app, opened["id"])} == {"PNC-SON", "US-SON"}
    assert audit_chain_is_intact(app)


def test_simultaneous_intakes_with_and_without_the_dui_still_make_one_case(app, pnc, health):
    calls = [
        (pnc, intake()),
        (health, intake(survivor_overrides={"dui": ...})),
        (pnc, intake(survivor_overrides={"dui": ..., "given_names": "MARÍA JOSÉ"})),
        (health, intake()),
        (pnc, intake(survivor_overrides={"dui": ...})),
        (health, intake(survivor_overrides={"family_names": "lopez  hernandez"})),
    ]
    results = race(app, calls)

    opened = assert_one_case(results)
    assert counts(app)["Case"] == 1
    assert counts(app)["Incident"] == 6
    record = _read(app, health, opened["id"])
    # Whoever came first, the DUI ends up on the one record.
    assert record["survivor"]["dui"] == "12345678-4"


def _read(app: Flask, person: Person, case_id: str) -> dict[str, Any]:
    response = app.test_client().get(f"/api/v1/cases/{case_id}", headers=person.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()
