"""Intakes racing each other on PostgreSQL: numbers never repeat, one survivor stays one case.

Each thread has its own app context (so its own database session and connection) and its
own test client; a barrier releases them together.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.audit.service import verify_chain
from app.cases.models import Case, CaseParty, Incident, Survivor
from app.cases.validators import DUI_WEIGHTS
from app.directory.models import Institution
from app.extensions import db
from app.referrals.models import Referral, ReferralEvent
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


# ---- a referral accepted while its sender cancels it -----------------------------------

ACCEPT_CANCEL_RACES = 40


def _send_referral(app: Flask, sender: Person, receiver_id: int, index: int) -> str:
    client = app.test_client()
    body = intake(
        survivor_overrides={
            "dui": make_dui(f"{index % 100:02d}{index // 100:02d}5678"),
            "given_names": f"Remitida {index}",
        }
    )
    opened = client.post("/api/v1/cases", json=body, headers=sender.headers)
    assert opened.status_code == 201, opened.get_json()
    sent = client.post(
        f"/api/v1/cases/{opened.get_json()['id']}/referrals",
        json={"to_institution": receiver_id, "service": "medical", "consent": True},
        headers=sender.headers,
    )
    assert sent.status_code == 201, sent.get_json()
    return str(sent.get_json()["id"])


def _transitions_at_once(app: Flask, calls: list[tuple[Person, str, str]]) -> list[tuple[int, Any]]:
    """POST every (person, referral, action) at once, one thread each."""
    barrier = threading.Barrier(len(calls), timeout=JOIN_TIMEOUT)
    results: list[tuple[int, Any] | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def work(index: int, person: Person, referral_id: str, action: str) -> None:
        try:
            with app.app_context():
                client = app.test_client()
                barrier.wait()
                response = client.post(
                    f"/api/v1/referrals/{referral_id}/transition",
                    json={"action": action},
                    headers=person.headers,
                )
                results[index] = (response.status_code, response.get_json())
                db.session.remove()
        except BaseException as error:  # reported by the main thread
            errors.append(error)
            barrier.abort()

    threads = [
        threading.Thread(target=work, args=(i, *call), daemon=True) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a transition hung (deadlock?)"
    assert not errors, errors
    return results  # type: ignore[return-value]


def _referral_state(app: Flask, referral_id: str) -> tuple[str, list[str], int]:
    """Status, the actions of its events, and the receiver's live party rows for it."""
    with app.app_context():
        referral = db.session.get(Referral, uuid.UUID(referral_id))
        assert referral is not None
        events = db.session.execute(
            select(ReferralEvent.action)
            .where(ReferralEvent.referral_id == referral.id)
            .order_by(ReferralEvent.id)
        ).scalars()
        live = db.session.execute(
            select(func.count())
            .select_from(CaseParty)
            .where(CaseParty.referral_id == referral.id, CaseParty.ended_at.is_(None))
        ).scalar_one()
        return referral.status, list(events), live


def no_deadlock_was_reported(caplog: pytest.LogCaptureFixture) -> bool:
    """A deadlock answers 409 too (app/core/errorhandling.py), but says so in the log."""
    return not [r for r in caplog.records if "SQLSTATE 40" in r.getMessage()]


def test_accept_racing_cancel_answers_200_or_409_and_never_deadlocks(app, pnc, health, caplog):
    """The receiver accepts while the sender cancels, many times over: one wins (200),
    the other is told the referral moved on (409); never a deadlock, never a 500."""
    with app.app_context():
        hospital = db.session.execute(
            select(Institution.id).where(Institution.code == health.institution)
        ).scalar_one()
    referrals = [_send_referral(app, pnc, hospital, i) for i in range(ACCEPT_CANCEL_RACES)]
    statuses: Counter[int] = Counter()
    for index in range(0, len(referrals), 4):  # four races at a time, eight threads
        batch = referrals[index : index + 4]
        calls = [
            call
            for referral_id in batch
            for call in ((health, referral_id, "accept"), (pnc, referral_id, "cancel"))
        ]
        results = _transitions_at_once(app, calls)
        for position, referral_id in enumerate(batch):
            accepted, cancelled = results[2 * position], results[2 * position + 1]
            statuses.update((accepted[0], cancelled[0]))
            assert sorted((accepted[0], cancelled[0])) == [200, 409], (accepted, cancelled)
            loser = accepted if accepted[0] == 409 else cancelled
            assert loser[1]["error"] == "conflict", loser
            status, events, live = _referral_state(app, referral_id)
            if accepted[0] == 200:
                assert (status, events, live) == ("accepted", ["send", "accept"], 1)
            else:
                assert (status, events, live) == ("cancelled", ["send", "cancel"], 0)
    assert statuses == {200: ACCEPT_CANCEL_RACES, 409: ACCEPT_CANCEL_RACES}
    assert no_deadlock_was_reported(caplog)
    assert audit_chain_is_intact(app)


CANCEL_REVOKE_RACES = 40


def _posts_at_once(app: Flask, calls: list[tuple[Person, str, dict[str, Any]]]) -> list[Any]:
    """POST every (person, path, body) at once, one thread each: (status, body) answers."""
    barrier = threading.Barrier(len(calls), timeout=JOIN_TIMEOUT)
    results: list[tuple[int, Any] | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def work(index: int, person: Person, path: str, body: dict[str, Any]) -> None:
        try:
            with app.app_context():
                client = app.test_client()
                barrier.wait()
                response = client.post(path, json=body, headers=person.headers)
                results[index] = (response.status_code, response.get_json())
                db.session.remove()
        except BaseException as error:  # reported by the main thread
            errors.append(error)
            barrier.abort()

    threads = [
        threading.Thread(target=work, args=(i, *call), daemon=True) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a request hung (deadlock?)"
    assert not errors, errors
    return results


def test_cancel_racing_a_consent_revocation_never_deadlocks(app, pnc, health, caplog):
    """The sender cancels an accepted referral while her case's consent is revoked: the
    two end or restrict the same party rows and change the same case row."""
    with app.app_context():
        hospital = db.session.execute(
            select(Institution.id).where(Institution.code == health.institution)
        ).scalar_one()
    referrals = [_send_referral(app, pnc, hospital, 500 + i) for i in range(CANCEL_REVOKE_RACES)]
    client = app.test_client()
    cases_of = {}
    for referral_id in referrals:
        accepted = client.post(
            f"/api/v1/referrals/{referral_id}/transition",
            json={"action": "accept"},
            headers=health.headers,
        )
        assert accepted.status_code == 200, accepted.get_json()
        read = client.get(f"/api/v1/referrals/{referral_id}", headers=pnc.headers).get_json()
        cases_of[referral_id] = read["case_id"]
    answers: Counter[int] = Counter()
    for index in range(0, len(referrals), 4):
        batch = referrals[index : index + 4]
        calls = [
            call
            for referral_id in batch
            for call in (
                (pnc, f"/api/v1/referrals/{referral_id}/transition", {"action": "cancel"}),
                (
                    pnc,
                    f"/api/v1/cases/{cases_of[referral_id]}/consent",
                    {"share_with_network": False},
                ),
            )
        ]
        for status, body in _posts_at_once(app, calls):
            answers[status] += 1
            assert status in (200, 201, 409), body  # the consent change answers 201
    assert answers[200] + answers[201] >= CANCEL_REVOKE_RACES  # every race has a winner
    for referral_id in referrals:
        status, events, live = _referral_state(app, referral_id)
        assert (status, live) in {("cancelled", 0), ("accepted", 1)}
        assert events[:2] == ["send", "accept"]
    assert no_deadlock_was_reported(caplog)
    assert audit_chain_is_intact(app)
