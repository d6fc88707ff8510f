"""A copy of the database alone reveals no survivor: we look for plaintext and find none.

The cases are made through the API, as a user would make them; then every byte the
database keeps (the SQLite file and its write-ahead log, or every row of every table on
PostgreSQL) is searched for the identities, narratives and secrets we sent.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect, select, text, update

from app.cases.models import Case, Incident, Survivor
from app.crypto.blind_index import normalise_name
from app.extensions import db
from tests import factories
from tests.conftest import PASSWORD, Person

WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)


def dui_for(body: str) -> str:
    check = (10 - sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 10) % 10
    return f"{body}-{check}"


SURVIVORS: list[dict[str, Any]] = [
    {
        "given_names": "Xiomara Griselda",
        "family_names": "Quintanilla Zelaya",
        "dui": dui_for("83927461"),
        "birth_date": "1987-06-21",
        "phone": "7391-8264",
        "address": "Residencial Los Cedros, polígono K, casa 27",
        "safe_contact": "Llamar a su hermana Rosibel al 6123-4598",
    },
    {
        "given_names": "Begoña Itzél",
        "family_names": "Ñúñez Cáceres",
        "dui": dui_for("50719264"),
        "birth_date": "2001-02-09",
        "phone": "6045-7712",
        "address": "Cantón El Zope, caserío Las Brisas, frente al molino",
    },
    {
        "given_names": "Yesenia Marisol",
        "family_names": "Barrientos Oñate",
        "dui": None,  # many survivors come without one
        "birth_date": "1979-11-03",
        "phone": "2451-0937",
        "address": "Barrio El Ángel, 4a calle oriente, número 19",
    },
]

INCIDENTS: list[dict[str, Any]] = [
    {
        "narrative": "La amenazó con un corvo en la cocina y le quitó el teléfono.",
        "perpetrator_details": "Wilfredo Armando Pineda, alias El Chele, motorista ruta 53",
    },
    {
        "narrative": "Durante la fiesta patronal la encerraron en una bodega de café.",
        "perpetrator_details": "Dagoberto Ulloa Mejía, vigilante del beneficio Las Tres Cruces",
    },
    {
        "narrative": "Le retiene el salario de la maquila y las tarjetas de la remesa.",
        "perpetrator_details": "Efraín Castaneda Ruballo, excompañero de vida",
    },
]

LATER_INCIDENT = {
    "narrative": "Volvió a buscarla en el mercado municipal con una pistola nueve milímetros.",
    "perpetrator_details": "Acompañado de su primo Reynaldo Atilio Guardado",
}


def needles_for(survivor: dict[str, Any]) -> set[str]:
    """The survivor's values, as sent and in the forms a search would normalise them to."""
    found: set[str] = set()
    for field, value in survivor.items():
        if not value:
            continue
        found |= {value, value.lower(), normalise_name(value)}
        if field in ("dui", "phone"):
            found.add(value.replace("-", ""))
    full_name = f"{survivor['given_names']} {survivor['family_names']}"
    found |= {full_name, normalise_name(full_name)}
    for word in full_name.split():
        if len(word) >= 6:
            found |= {word, word.lower(), normalise_name(word)}
    return found


def needles_for_incident(incident: dict[str, Any]) -> set[str]:
    found = set()
    for value in incident.values():
        found |= {value, value.lower()}
        words = value.rstrip(".").split()
        found |= {" ".join(words[i : i + 3]) for i in range(0, len(words) - 2, 3)}
    return found


def open_case(client: FlaskClient, person: Person, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/cases", json=body, headers=person.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def make_cases(client: FlaskClient, person: Person) -> list[dict[str, Any]]:
    created = []
    for survivor, incident in zip(SURVIVORS, INCIDENTS, strict=True):
        body = factories.intake(survivor, incident)
        created.append(open_case(client, person, body))
    response = client.post(
        f"/api/v1/cases/{created[0]['id']}/incidents",
        json=factories.incident(occurred_on="2026-11-01", **LATER_INCIDENT),
        headers=person.headers,
    )
    assert response.status_code == 201, response.get_json()
    return created


# ---- reading everything the database holds ------------------------------------------------


def sqlite_bytes(app: Flask) -> bytes:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    path = Path(uri.removeprefix("sqlite:///"))
    with app.app_context():
        db.session.remove()
        db.engine.dispose()  # no open reader may hold pages back from the checkpoint
    with contextlib.closing(sqlite3.connect(path)) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0
    chunks = [path.read_bytes()]
    for suffix in ("-wal", "-journal"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            chunks.append(extra.read_bytes())
    return b"\n".join(chunks)


def _as_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


def postgres_bytes(app: Flask) -> bytes:
    """Every value of every row of every table of the schema, bytea as its raw bytes."""
    chunks = []
    with app.app_context():
        tables = inspect(db.engine).get_table_names()
        assert "survivors" in tables
        with db.engine.connect() as conn:
            for table in tables:
                for row in conn.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                    chunks.extend(_as_bytes(value) for value in row)
    return b"\n".join(chunks)


def database_bytes(app: Flask) -> bytes:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return sqlite_bytes(app)
    return postgres_bytes(app)


def leaked(haystack: bytes, needles: set[str]) -> list[str]:
    return sorted(n for n in needles if n.encode("utf-8") in haystack)


# ---- the tests -------------------------------------------------------------------------------


def test_database_holds_no_survivor_identity_or_narrative(app, client, pnc):
    created = make_cases(client, pnc)
    dump = database_bytes(app)

    # The search works: what is meant to be plain is found.
    for case in created:
        assert case["number"].encode() in dump
    assert b"agente.test" in dump
    assert b"Unidad de Salud Sonsonate" in dump

    needles: set[str] = set()
    for survivor in SURVIVORS:
        needles |= needles_for(survivor)
    for incident in [*INCIDENTS, LATER_INCIDENT]:
        needles |= needles_for_incident(incident)
    assert leaked(dump, needles) == []


def test_database_holds_no_status_code_token_totp_secret_or_password(app, client, pnc, health):
    created = make_cases(client, pnc)
    dump = database_bytes(app)
    secrets = {case["status_code"] for case in created}
    secrets |= {pnc.token, health.token, pnc.totp_secret, health.totp_secret, PASSWORD}
    assert None not in secrets
    assert leaked(dump, secrets) == []


COMPLAINT_NUMBER = "DEN-PNC-SON-2026-004417"
COURTS = (
    "Juzgado Especializado de Instrucción de Santa Ana",
    "Juzgado Tercero de Paz de Nahuizalco",  # given later, when the measure is granted
)
BREAK_GLASS_REASON = "Oficio 4471 del Juzgado de Familia de Izalco sobre Xiomara Quintanilla"


def test_database_holds_no_complaint_number_court_or_break_glass_reason(
    app, client, pnc, supervisor
):
    case_id = make_cases(client, pnc)[0]["id"]
    base = f"/api/v1/cases/{case_id}"
    filed = client.post(
        f"{base}/complaints",
        headers=pnc.headers,
        json={
            "number": COMPLAINT_NUMBER,
            "measures": [{"measure": "keep_away", "court": COURTS[0]}],
        },
    )
    assert filed.status_code == 201, filed.get_json()
    measure_id = filed.get_json()["measures"][0]["id"]
    granted = client.patch(
        f"{base}/measures/{measure_id}",
        headers=pnc.headers,
        json={"status": "active", "granted": True, "court": COURTS[1]},
    )
    assert granted.status_code == 200, granted.get_json()
    glass = client.post(
        f"{base}/break-glass",
        headers=supervisor.headers,
        json={"reason": BREAK_GLASS_REASON, "password": PASSWORD},
    )
    assert glass.status_code == 201, glass.get_json()
    # Reading them back (decrypted, audited) leaves no plaintext behind either.
    record = client.get(base, headers=pnc.headers).get_json()
    assert record["complaints"][0]["number"] == COMPLAINT_NUMBER
    queue = client.get("/api/v1/break-glass", headers=supervisor.headers).get_json()
    assert queue["items"][0]["reason"] == BREAK_GLASS_REASON
    dump = database_bytes(app)

    needles = {COMPLAINT_NUMBER, COMPLAINT_NUMBER.lower()}
    for value in (*COURTS, BREAK_GLASS_REASON):
        needles |= needles_for_incident({"text": value})
    assert leaked(dump, needles) == []


# ---- tampering: a ciphertext pasted elsewhere ---------------------------------------------


def _survivor_id(app: Flask, case_id: str) -> uuid.UUID:
    with app.app_context():
        return db.session.get_one(Case, uuid.UUID(case_id)).survivor_id


@pytest.fixture
def app_log(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.ERROR, logger="ruta"):
        yield caplog


def assert_refused_without_leak(response: Any, caplog: pytest.LogCaptureFixture) -> None:
    assert response.status_code == 500
    assert response.get_json()["error"] == "server_error"
    body = response.get_data()
    shown = body + caplog.text.encode()
    needles = set().union(*(needles_for(s) for s in SURVIVORS))
    needles |= set().union(*(needles_for_incident(i) for i in [*INCIDENTS, LATER_INCIDENT]))
    assert leaked(shown, needles) == []
    # Not silent: the failure is logged, by type, for the operators.
    assert any("DecryptionError" in record.getMessage() for record in caplog.records)


def test_name_copied_from_another_survivor_makes_the_case_unreadable(app, client, pnc, app_log):
    first, second, _ = make_cases(client, pnc)
    source_id, target_id = _survivor_id(app, first["id"]), _survivor_id(app, second["id"])
    with app.app_context():
        source = db.session.get_one(Survivor, source_id)
        db.session.execute(
            update(Survivor)
            .where(Survivor.id == target_id)
            .values(given_names_enc=source.given_names_enc)
        )
        db.session.commit()

    response = client.get(f"/api/v1/cases/{second['id']}", headers=pnc.headers)
    assert_refused_without_leak(response, app_log)

    # The case the ciphertext came from is untouched and still reads.
    intact = client.get(f"/api/v1/cases/{first['id']}", headers=pnc.headers)
    assert intact.status_code == 200
    assert intact.get_json()["survivor"]["given_names"] == "Xiomara Griselda"


def test_field_swapped_within_one_survivor_makes_the_case_unreadable(app, client, pnc, app_log):
    first, _, _ = make_cases(client, pnc)
    survivor_id = _survivor_id(app, first["id"])
    with app.app_context():
        row = db.session.get_one(Survivor, survivor_id)
        given, family = row.given_names_enc, row.family_names_enc
        db.session.execute(
            update(Survivor)
            .where(Survivor.id == survivor_id)
            .values(given_names_enc=family, family_names_enc=given)
        )
        db.session.commit()

    response = client.get(f"/api/v1/cases/{first['id']}", headers=pnc.headers)
    assert_refused_without_leak(response, app_log)


def test_narrative_moved_between_incidents_of_one_case_is_refused(app, client, pnc, app_log):
    first, _, _ = make_cases(client, pnc)  # the first case has two incidents, one data key
    with app.app_context():
        incidents = (
            db.session.execute(select(Incident).where(Incident.case_id == uuid.UUID(first["id"])))
            .scalars()
            .all()
        )
        assert len(incidents) == 2
        db.session.execute(
            update(Incident)
            .where(Incident.id == incidents[1].id)
            .values(narrative_enc=incidents[0].narrative_enc)
        )
        db.session.commit()

    response = client.get(f"/api/v1/cases/{first['id']}", headers=pnc.headers)
    assert_refused_without_leak(response, app_log)
