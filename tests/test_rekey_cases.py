"""Replacing a case's data key (ASVS 11.2.2): `keys rekey-cases` seals every ciphertext
of her record, attachments on disk included, again under a new key and destroys the
old one. The record reads the same through the API; nothing opens with the old key."""

from __future__ import annotations

import io
import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.audit.models import AuditEvent
from app.cases import rekey
from app.cases.care_models import Attachment
from app.cases.models import Case
from app.cli.commands import REFERRAL_TABLES
from app.crypto.envelope import DecryptionError, FieldCipher
from app.crypto.models import PURGED_KEK_ID, DataKey
from app.crypto.service import cipher_for, get_keyring
from app.extensions import Base, db
from tests.conftest import PASSWORD, Person
from tests.factories import intake, one_page_pdf

PDF = one_page_pdf("informe confidencial")
ALL_NO = {str(n): False for n in range(1, 25)}


def institution_id(client: FlaskClient, person: Person, code: str) -> int:
    items = client.get("/api/v1/institutions", headers=person.headers).get_json()["items"]
    return next(item["id"] for item in items if item["code"] == code)


def full_record(client: FlaskClient, pnc: Person, supervisor: Person) -> dict[str, Any]:
    """A case with something in every sealed part a user can write through the API."""
    opened = client.post("/api/v1/cases", json=intake(), headers=pnc.headers)
    assert opened.status_code == 201
    case = opened.get_json()
    base = f"/api/v1/cases/{case['id']}"
    writes = [
        ("post", "notes", {"kind": "legal", "text": "Nota jurídica confidencial"}),
        ("post", "follow-ups", {"due_on": "2026-12-15", "channel": "phone"}),
        ("post", "risk-assessments", {"answers": ALL_NO}),
        ("post", "complaints", {"number": "DEN-7", "measures": [{"measure": "keep_away"}]}),
        ("put", "safety-plan", {"plan": "Casa de su hermana"}),
        (
            "post",
            "referrals",
            {
                "to_institution": institution_id(client, pnc, "HOSP-SON"),
                "service": "medical",
                "urgency": "routine",
                "reason": "Atención médica",
                "consent": True,
            },
        ),
    ]
    for method, part, body in writes:
        answer = getattr(client, method)(f"{base}/{part}", json=body, headers=pnc.headers)
        assert answer.status_code in (200, 201), (part, answer.get_json())
    upload = client.post(
        f"{base}/attachments",
        headers=pnc.headers,
        data={"file": (io.BytesIO(PDF), "informe.pdf"), "description": "Informe médico"},
    )
    assert upload.status_code == 201, upload.get_json()
    version = client.get(base, headers=pnc.headers).get_json()["survivor"]["version"]
    corrected = client.patch(
        f"{base}/survivor",
        json={"phone": "7000-0001", "reason": "Número equivocado", "version": version},
        headers=pnc.headers,
    )
    assert corrected.status_code == 200, corrected.get_json()
    glass = client.post(
        f"{base}/break-glass",
        headers=supervisor.headers,
        json={"reason": "Orden judicial urgente", "password": PASSWORD},
    )
    assert glass.status_code == 201, glass.get_json()
    return {**case, "attachment_id": upload.get_json()["id"]}


def sealed_blobs(key_id: uuid.UUID) -> list[tuple[str, str, bytes]]:
    """(table, column, blob) of every ciphertext in the database made with this key."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in (c for c in table.c if c.name.endswith("_enc")):
            for blob in db.session.execute(select(column).where(column.is_not(None))).scalars():
                if blob[:1] == b"\x01" and blob[1:17] == key_id.bytes:
                    found.append((table.name, column.name, blob))
    return found


def data_key_of(case_id: str) -> tuple[uuid.UUID, FieldCipher, str]:
    stmt = select(Case).options(joinedload(Case.data_key)).where(Case.id == uuid.UUID(case_id))
    case = db.session.execute(stmt).scalar_one()
    return case.data_key.id, cipher_for(get_keyring(), case.data_key), case.data_key.kek_id


def attachment_file(app: Flask, attachment_id: str) -> Any:
    row = db.session.get(Attachment, uuid.UUID(attachment_id))
    assert row is not None
    return app.config["RUTA_ATTACHMENTS_DIR"] / row.storage_name


# Re-sealing writes the rows: their versions and update times move, their contents not.
MOVED_BY_A_WRITE = {"version", "updated_at"}


def contents(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: contents(v) for k, v in value.items() if k not in MOVED_BY_A_WRITE}
    if isinstance(value, list):
        return [contents(item) for item in value]
    return value


def read(client: FlaskClient, pnc: Person, case: dict[str, Any]) -> tuple[Any, bytes]:
    shown = client.get(f"/api/v1/cases/{case['id']}", headers=pnc.headers)
    file = client.get(
        f"/api/v1/cases/{case['id']}/attachments/{case['attachment_id']}", headers=pnc.headers
    )
    assert shown.status_code == file.status_code == 200
    return shown.get_json(), file.data


def test_after_rekey_the_case_reads_the_same_and_the_old_key_opens_nothing(
    app, client, pnc, supervisor
):
    case = full_record(client, pnc, supervisor)
    before, file_before = read(client, pnc, case)
    with app.app_context():
        old_id, old_cipher, _ = data_key_of(case["id"])
        old_blobs = sealed_blobs(old_id)
        old_file = attachment_file(app, case["attachment_id"])
        db.session.rollback()
    sealed_tables = {table for table, _, _ in old_blobs}
    assert {"survivors", "incidents", "care_notes", "referrals", "attachments"} <= sealed_tables
    assert {"break_glass", "corrections", "safety_plans", "complaints"} <= sealed_tables

    result = app.test_cli_runner().invoke(args=["keys", "rekey-cases", "--case", case["number"]])

    assert result.exit_code == 0, result.output
    assert "done: 1 cases re-keyed" in result.output
    after, file_after = read(client, pnc, case)
    assert contents(after) == contents(before) and file_after == file_before
    assert after["survivor"]["given_names"] == "María José"
    with app.app_context():
        new_id, new_cipher, _ = data_key_of(case["id"])
        assert new_id != old_id
        assert sealed_blobs(old_id) == []
        new_blobs = sealed_blobs(new_id)
        assert len(new_blobs) >= len(old_blobs)
        assert not {blob for _, _, blob in old_blobs} & {blob for _, _, blob in new_blobs}
        for _table, _column, blob in new_blobs:
            try:
                old_cipher.open_bytes("any", "row", "field", blob)
            except DecryptionError:
                continue
            raise AssertionError("the old data key opened a re-sealed ciphertext")
        old_row = db.session.get(DataKey, old_id)
        assert old_row is not None and old_row.kek_id == PURGED_KEK_ID and old_row.wrapped == b""
        new_file = attachment_file(app, case["attachment_id"])
        assert not old_file.exists() and new_file.exists()
        file_blob = new_file.read_bytes()
        assert file_blob[1:17] == new_id.bytes
        row_id = uuid.UUID(case["attachment_id"])
        assert new_cipher.open_bytes("attachments", row_id, "content", file_blob) == file_before
        actions = db.session.execute(
            select(AuditEvent.case_id).where(AuditEvent.action == "case_rekey")
        ).scalars()
        assert [str(case_id) for case_id in actions] == [case["id"]]


def test_rekey_of_every_case_goes_in_batches_and_a_second_run_finds_none(
    app, client, pnc, supervisor
):
    first = full_record(client, pnc, supervisor)
    other = client.post(
        "/api/v1/cases",
        json=intake({"given_names": "Rosa", "family_names": "Pérez", "dui": None}),
        headers=pnc.headers,
    ).get_json()
    with app.app_context():
        old_ids = [data_key_of(c["id"])[0] for c in (first, other)]
        db.session.rollback()
    runner = app.test_cli_runner()

    done = runner.invoke(args=["keys", "rekey-cases", "--batch", "1"])

    assert done.exit_code == 0, done.output
    assert "2 cases to re-key" in done.output and "done: 2 cases re-keyed" in done.output
    stamp = done.output.split("--older-than ")[1].split(")")[0]
    again = runner.invoke(args=["keys", "rekey-cases", "--older-than", stamp])
    assert again.exit_code == 0 and "done: 0 cases re-keyed" in again.output
    with app.app_context():
        assert all(sealed_blobs(old_id) == [] for old_id in old_ids)
    assert read(client, pnc, first)[1].startswith(b"%PDF")


def test_every_sealed_table_is_reached_by_the_rekey():
    """A new table with sealed columns must be re-keyed: by the merge's parts, by hand,
    through its `case_id`, or be declared sealed with another key (a user's, the KEK's)."""
    reached = (
        set(rekey.MERGED_TOO)
        | set(rekey.BY_HAND)
        | set(rekey.NOT_CASE_KEYS)
        | set(REFERRAL_TABLES)
        | {table.name for table in rekey.staying_tables(REFERRAL_TABLES)}
    )
    sealed = {
        table.name
        for table in Base.metadata.sorted_tables
        if any(column.name.endswith("_enc") for column in table.c)
    }
    assert sealed - reached == set()
