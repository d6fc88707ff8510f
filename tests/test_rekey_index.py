"""Replacing the index key (ASVS 11.2.2): `keys rotate-index` recomputes every blind
index and name token under a new key, finds everyone while it runs, and retires the old
key only once no row needs it. Through the CLI runner and the API, on the test database."""

from __future__ import annotations

import base64
import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.cases.models import Survivor
from app.cases.record_models import SurvivorNameToken
from app.crypto.keyring import KeyMaterial, KeyRing, key_fingerprint, read_key_file
from app.extensions import db
from tests.conftest import Person
from tests.factories import OTHER_DUI, VALID_DUI, intake

WOMEN = (
    {"dui": VALID_DUI, "phone": "7777-1234"},
    {
        "given_names": "Xiomara Cecilia",
        "family_names": "Quintanilla Vásquez",
        "dui": OTHER_DUI,
        "birth_date": "1988-07-02",
        "phone": "7123-4567",
    },
    {
        "given_names": "Ana Gabriela",
        "family_names": "Martínez Chávez",
        "dui": None,
        "birth_date": "2001-01-20",
        "phone": "6012-3456",
    },
)
MISSPELT = {0: "Maria Lopes", 1: "Siomara Kintaniya", 2: "Ana Martines"}


def open_case(client: FlaskClient, person: Person, **survivor: Any) -> dict[str, Any]:
    response = client.post("/api/v1/cases", json=intake(survivor), headers=person.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def found_ids(client: FlaskClient, person: Person, **body: Any) -> list[str]:
    response = client.post("/api/v1/cases/search", json=body, headers=person.headers)
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def full_survivor(overrides: dict[str, Any]) -> dict[str, Any]:
    return intake(overrides)["survivor"]


def assert_everyone_found(client: FlaskClient, pnc: Person, cases: list[dict[str, Any]]) -> None:
    for number, (overrides, case) in enumerate(zip(WOMEN, cases, strict=True)):
        her = full_survivor(overrides)
        if her.get("dui"):
            assert found_ids(client, pnc, dui=her["dui"]) == [case["id"]]
        name = f"{her['given_names']} {her['family_names']}"
        assert found_ids(client, pnc, name=name, birth_date=her["birth_date"]) == [case["id"]]
        assert found_ids(client, pnc, phone=her["phone"])[:1] == [case["id"]]
        assert found_ids(client, pnc, name_like=MISSPELT[number])[:1] == [case["id"]]


def stored_indexes(app: Flask) -> dict[str, Any]:
    with app.app_context():
        rows = db.session.execute(
            select(Survivor.id, Survivor.dui_bidx, Survivor.name_dob_bidx, Survivor.phone_bidx)
        ).all()
        tokens = set(db.session.execute(select(SurvivorNameToken.token)).scalars())
        key_ids = set(db.session.execute(select(Survivor.index_key_id)).scalars())
    return {"rows": {row.id: tuple(row[1:]) for row in rows}, "tokens": tokens, "ids": key_ids}


def rotate(app: Flask, *extra: str) -> Any:
    result = app.test_cli_runner().invoke(args=["keys", "rotate-index", "--settle", "0", *extra])
    assert result.exit_code == 0, result.output
    return result


def status_of(client: FlaskClient, case: dict[str, Any]) -> int:
    answer = client.post(
        "/api/v1/status", json={"code": case["status_code"], "pin": case["status_pin"]}
    )
    return answer.status_code


def test_after_rotate_index_everyone_is_found_and_the_old_key_is_gone(app, client, pnc):
    cases = [open_case(client, pnc, **overrides) for overrides in WOMEN]
    key_file = app.config["RUTA_KEY_FILE"]
    old_key = read_key_file(key_file).index_key
    before = stored_indexes(app)

    result = rotate(app)

    material = read_key_file(key_file)
    assert material.index_key != old_key and material.retiring_index_keys == ()
    assert base64.b64encode(old_key).decode() not in key_file.read_text()
    assert key_fingerprint(material.index_key, "index") in result.output
    after = stored_indexes(app)
    for survivor_id, values in before["rows"].items():
        changed = [old != new for old, new in zip(values, after["rows"][survivor_id], strict=True)]
        assert changed == [value is not None for value in values], survivor_id
    assert after["tokens"] and not after["tokens"] & before["tokens"]
    assert after["ids"] == {key_fingerprint(material.index_key, "index")}
    assert_everyone_found(client, pnc, cases)
    # Her slip's code was never stored: the retired key's status subkey still finds it.
    assert [status_of(client, case) for case in cases] == [200, 200, 200]


def test_an_interrupted_rotation_finds_everyone_and_a_second_run_completes(app, client, pnc):
    cases = [open_case(client, pnc, **overrides) for overrides in WOMEN]
    key_file = app.config["RUTA_KEY_FILE"]
    old_key = read_key_file(key_file).index_key

    first = rotate(app, "--batch", "1", "--limit", "1")

    assert "2 left under the old key" in first.output
    halfway = read_key_file(key_file)
    assert halfway.retiring_index_keys == (old_key,)
    new_id = key_fingerprint(halfway.index_key, "index")
    with app.app_context():
        ids = list(db.session.execute(select(Survivor.index_key_id)).scalars())
    assert sorted(ids) == sorted([new_id, *[key_fingerprint(old_key, "index")] * 2])
    assert_everyone_found(client, pnc, cases)
    # A woman registered mid-rotation is indexed with the new key and found at once.
    late = open_case(
        client,
        pnc,
        given_names="Rosa Elena",
        family_names="Pérez Ayala",
        dui=None,
        birth_date="1979-11-11",
        phone="7000-0001",
    )
    assert found_ids(client, pnc, name_like="Rosa Peres")[:1] == [late["id"]]

    second = rotate(app, "--batch", "1")

    assert "done: 2 survivors re-indexed" in second.output
    final = read_key_file(key_file)
    assert final.retiring_index_keys == () and final.index_key == halfway.index_key
    assert stored_indexes(app)["ids"] == {new_id}
    assert_everyone_found(client, pnc, cases)
    assert status_of(client, late) == 200 and status_of(client, cases[0]) == 200


def test_a_rotation_is_audited_and_the_app_still_starts_with_the_new_key_file(app, client, pnc):
    open_case(client, pnc)
    rotate(app)
    restarted = KeyRing(app.config["RUTA_KEY_FILE"])
    assert restarted.index_keys.ids() == [key_fingerprint(restarted.index_key, "index")]
    with app.app_context():
        from app.audit.models import AuditEvent
        from app.crypto.service import verify_or_create_canary

        verify_or_create_canary(db.session, restarted)  # raises if the canary were stale
        events = db.session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == "key_rotation")
        ).scalars()
        assert [detail.split()[0] for detail in events] == [
            f"index={key_fingerprint(restarted.index_key, 'index')}"
        ]


def test_a_key_file_of_the_first_format_still_opens(tmp_path):
    keys = [base64.b64encode(bytes([n]) * 32).decode() for n in range(1, 4)]
    path = tmp_path / "kek"
    path.write_text(
        json.dumps(
            {
                "format": 1,
                "active_kek": "kold",
                "keks": {"kold": keys[0]},
                "index_key": keys[1],
                "audit_key": keys[2],
                "cohorts": {},
            }
        )
    )
    ring = KeyRing(path)
    assert ring.index_key == bytes([2]) * 32 and ring.audit_key == bytes([3]) * 32
    assert ring.index_keys.keys == (ring.index_key,) and ring.audit_keys.keys == (ring.audit_key,)
    assert ring.status_keys == ()
    written = json.loads(KeyMaterial.from_json(path.read_text()).to_json())
    assert written["format"] == 2 and written["index_key"] == keys[1]
