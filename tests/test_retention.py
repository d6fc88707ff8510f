"""Retention and crypto-shredding (issue 15, item 8): a closed record past its period is
made unreadable everywhere by `records purge` — its ciphertexts stay and fail to open,
backups included — while the statistics and the audit chain stay as they were."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.cases.attachments import attachment_path
from app.cases.care_models import Attachment
from app.cases.models import Case, Survivor
from app.cases.record_models import SurvivorNameToken
from app.crypto.envelope import DecryptionError
from app.crypto.keyring import KeyNotFound, is_cohort_id, read_key_file
from app.crypto.models import DataKey, RetentionCohort
from app.crypto.service import cipher_for
from app.extensions import db
from app.notifications.models import Notification
from app.retention.models import ErasureRequest
from tests.auth_helpers import start_web_session
from tests.conftest import Person
from tests.factories import intake, one_page_pdf
from tests.report_helpers import Seeded, get_stats, grid, open_cases

API = "/api/v1"
PURGED_PAGE = "Expediente depurado el"


# ---- helpers ----------------------------------------------------------------------------


def new_case(client, person: Person, **survivor: Any) -> str:
    response = client.post(f"{API}/cases", json=intake(survivor), headers=person.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def close(client, person: Person, case_id: str) -> None:
    record = client.get(f"{API}/cases/{case_id}", headers=person.headers).get_json()
    body = {"status": "closed", "reason": "services_completed", "version": record["version"]}
    closed = client.post(f"{API}/cases/{case_id}/status", json=body, headers=person.headers)
    assert closed.status_code == 200, closed.get_json()


def case_row(case_id: str) -> Case:
    return db.session.get(Case, uuid.UUID(case_id))


def closed_years_ago(app: Flask, case_id: str, years: float) -> None:
    with app.app_context():
        case = case_row(case_id)
        case.closed_at = datetime.now(UTC) - timedelta(days=round(365.25 * years))
        db.session.commit()


def cli(app: Flask, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def purge(app: Flask, *args: str):
    result = cli(app, "records", "purge", *args)
    assert result.exit_code == 0, result.output
    return result


def key_row(app: Flask, case_id: str) -> tuple[str, bytes]:
    with app.app_context():
        key = db.session.get(DataKey, case_row(case_id).data_key_id)
        return key.kek_id, bytes(key.wrapped)


def opens(app: Flask, case_id: str, wrapped: bytes | None = None) -> bool:
    """Whether the case's survivor name decrypts, with the key row as it is now or, given
    `wrapped`, as a backup made earlier holds it — with the key ring as it is now."""
    with app.app_context():
        ring = app.extensions["ruta.keyring"]
        ring.refresh(force=True)
        case = case_row(case_id)
        key = db.session.get(DataKey, case.data_key_id)
        if wrapped is not None:
            key = DataKey(id=key.id, kek_id="backup", wrapped=wrapped)
        survivor = db.session.get(Survivor, case.survivor_id)
        try:
            cipher = cipher_for(ring, key)
            cipher.open_text("survivors", survivor.id, "given_names", survivor.given_names_enc)
        except (DecryptionError, KeyNotFound):
            return False
        return True


def audit_ok(app: Flask) -> None:
    verified = cli(app, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert verified.output.startswith("ok ")


@pytest.fixture
def other_supervisor(make_person) -> Person:
    return make_person("supervisor", "RED-SON", "supervisora.dos")


# ---- the purge of "Done when" ----------------------------------------------------------


def test_closed_case_past_its_period_is_unreadable_after_purge_and_counts_the_same(
    app, client, pnc, supervisor
):
    seeded = Seeded()
    ids = open_cases(client, pnc, seeded, 6, municipality="Sonsonate", types=["physical"])
    for case_id in ids:
        close(client, pnc, case_id)
    expired, kept = ids[:3], ids[3:]
    for case_id in expired:
        closed_years_ago(app, case_id, 10.1)
    before = get_stats(client, pnc, by="district")
    with app.app_context():
        sealed_before = {
            cid: bytes(db.session.get(Survivor, case_row(cid).survivor_id).given_names_enc)
            for cid in ids
        }
    # What a database backup made now holds: each data key wrapped by its cohort key.
    backup = {case_id: key_row(app, case_id) for case_id in ids}
    assert all(is_cohort_id(kek) for kek, _ in backup.values())

    result = purge(app)

    assert "purged 3 records" in result.output
    for case_id in expired:
        assert not opens(app, case_id)  # the live key row opens nothing
        assert not opens(app, case_id, backup[case_id][1])  # nor the backup's copy
    for case_id in kept:
        assert opens(app, case_id)  # the rest of the cohort moved to a fresh key
        assert opens(app, case_id, backup[case_id][1]) is False  # the old cohort key is gone
    with app.app_context():
        for case_id in ids:
            survivor = db.session.get(Survivor, case_row(case_id).survivor_id)
            assert bytes(survivor.given_names_enc) == sealed_before[case_id]  # left in place
        assert db.session.get(RetentionCohort, backup[ids[0]][0]).destroyed_at is not None
    assert backup[ids[0]][0] not in read_key_file(app.config["RUTA_KEY_FILE"]).cohorts
    after = get_stats(client, pnc, by="district")
    assert grid(after) == grid(before)
    assert grid(after)["Sonsonate"][-1] == 6
    audit_ok(app)


def test_purge_writes_one_audit_event_per_case_a_summary_and_tells_the_supervisors(
    app, client, pnc, supervisor
):
    case_id = new_case(client, pnc)
    close(client, pnc, case_id)
    closed_years_ago(app, case_id, 11)

    purge(app)

    with app.app_context():
        events = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "record_purge")
        ).scalars()
        details = sorted((e.object_type, e.detail or "") for e in events)
        assert details[0] == ("case", "retention")
        assert details[1][0] == "purge_run" and "purged=1" in details[1][1]
        told = db.session.execute(
            select(Notification).where(
                Notification.user_id == supervisor.id, Notification.kind == "records_purged"
            )
        ).scalar_one()
        assert told.reference == "1 expedientes"


def test_not_yet_expired_and_held_cases_are_untouched(app, client, pnc, supervisor):
    recent = new_case(client, pnc)
    held = new_case(client, pnc, given_names="Rosa Elena", dui="04567891-1")
    still_open = new_case(client, pnc, given_names="Carmen", dui=...)
    for case_id in (recent, held):
        close(client, pnc, case_id)
    closed_years_ago(app, recent, 9.9)
    closed_years_ago(app, held, 20)
    hold = client.post(
        f"{API}/cases/{held}/legal-hold",
        json={"hold": True, "reason": "Proceso judicial pendiente en el juzgado"},
        headers=supervisor.headers,
    )
    assert hold.status_code == 200, hold.get_json()
    assert hold.get_json()["legal_hold"] is True

    result = purge(app)

    assert "purged 0 records" in result.output
    for case_id in (recent, held, still_open):
        assert opens(app, case_id)
        with app.app_context():
            assert case_row(case_id).purged_at is None
    lifted = client.post(
        f"{API}/cases/{held}/legal-hold",
        json={"hold": False, "reason": "El juzgado cerró el proceso"},
        headers=supervisor.headers,
    )
    assert lifted.status_code == 200
    assert "purged 1 records" in purge(app).output
    assert not opens(app, held)


def test_a_minor_is_kept_until_she_is_18_plus_the_period(app, client, pnc):
    child = new_case(client, pnc, birth_date="2012-06-01", dui=...)
    close(client, pnc, child)
    closed_years_ago(app, child, 10.5)  # closed at 4: kept until 2030 + 10

    dry = purge(app, "--dry-run")

    assert "would purge 0 records (1 kept longer: minors)" in dry.output
    assert "purged 0 records" in purge(app).output
    assert opens(app, child)


def test_second_run_finds_nothing_and_the_chain_still_verifies(app, client, pnc):
    case_id = new_case(client, pnc)
    close(client, pnc, case_id)
    closed_years_ago(app, case_id, 12)
    assert "purged 1 records" in purge(app).output

    again = purge(app)

    assert "purged 0 records" in again.output
    audit_ok(app)


# ---- what is left of a purged record ------------------------------------------------------


def test_purged_case_answers_200_without_data_on_the_api_and_the_page(app, client, pnc):
    case_id = new_case(client, pnc)
    close(client, pnc, case_id)
    closed_years_ago(app, case_id, 11)
    purge(app)

    read = client.get(f"{API}/cases/{case_id}", headers=pnc.headers)

    assert read.status_code == 200, read.get_json()
    body = read.get_json()
    assert body["access"] == "purged" and body["purged"] is True
    assert body["number"].startswith("SON-") and body["status"] == "closed"
    assert "survivor" not in body and "incidents" not in body
    write = client.post(
        f"{API}/cases/{case_id}/status",
        json={"status": "open", "reason": "nuevo", "version": body["version"]},
        headers=pnc.headers,
    )
    assert write.status_code == 409 and write.get_json()["error"] == "case_purged"
    listed = client.get(f"{API}/cases", headers=pnc.headers).get_json()["items"]
    assert case_id not in {item["id"] for item in listed}
    start_web_session(app, client, pnc.username)
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert PURGED_PAGE in html and "María" not in html


def test_a_new_intake_with_her_identity_after_purge_opens_a_new_record(app, client, pnc):
    case_id = new_case(client, pnc)
    close(client, pnc, case_id)
    closed_years_ago(app, case_id, 11)
    purge(app)
    with app.app_context():
        survivor = db.session.get(Survivor, case_row(case_id).survivor_id)
        assert survivor.dui_bidx is None and survivor.name_dob_bidx is None
        tokens = select(func.count()).where(SurvivorNameToken.survivor_id == survivor.id)
        assert db.session.execute(tokens).scalar_one() == 0

    again = client.post(f"{API}/cases", json=intake(), headers=pnc.headers)

    assert again.status_code == 201, again.get_json()
    assert again.get_json()["matched_existing"] is False
    assert again.get_json()["id"] != case_id
    found = client.post(
        f"{API}/cases/search", json={"dui": "12345678-4"}, headers=pnc.headers
    ).get_json()["items"]
    assert [item["id"] for item in found] == [again.get_json()["id"]]


# ---- her erasure request ---------------------------------------------------------------


def ask_erasure(client, person: Person, case_id: str) -> Any:
    body = {
        "legal_basis": "consent_withdrawn",
        "reason": "Ella pidió en persona suprimir sus datos",
    }
    return client.post(f"{API}/cases/{case_id}/erasure", json=body, headers=person.headers)


def test_erasure_request_is_approved_by_a_supervisor_and_the_next_purge_shreds_it(
    app, client, pnc, supervisor
):
    case_id = new_case(client, pnc)
    close(client, pnc, case_id)
    backup = key_row(app, case_id)
    asked = ask_erasure(client, pnc, case_id)
    assert asked.status_code == 202, asked.get_json()
    request_id = asked.get_json()["id"]
    queue = client.get(f"{API}/erasures", headers=supervisor.headers).get_json()["items"]
    assert [item["id"] for item in queue] == [request_id]
    assert "reason" not in queue[0]

    approved = client.post(
        f"{API}/erasures/{request_id}/review", json={"approve": True}, headers=supervisor.headers
    )
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["status"] == "approved"
    assert "purged 1 records (1 by erasure request)" in purge(app).output

    assert not opens(app, case_id) and not opens(app, case_id, backup[1])
    with app.app_context():
        request = db.session.get(ErasureRequest, uuid.UUID(request_id))
        assert request.status == "done" and request.carried_out_at is not None
    audit_ok(app)


def test_a_rejected_erasure_keeps_the_record(app, client, pnc, supervisor):
    case_id = new_case(client, pnc)
    close(client, pnc, case_id)
    request_id = ask_erasure(client, pnc, case_id).get_json()["id"]
    rejected = client.post(
        f"{API}/erasures/{request_id}/review", json={"approve": False}, headers=supervisor.headers
    )
    assert rejected.get_json()["status"] == "rejected"
    purge(app)
    assert opens(app, case_id)


def test_erasure_is_refused_while_the_law_keeps_the_record(app, client, pnc, supervisor):
    case_id = new_case(client, pnc)

    still_open = ask_erasure(client, pnc, case_id)

    assert still_open.status_code == 409
    assert "el caso sigue abierto" in still_open.get_json()["message"]
    complaint = client.post(
        f"{API}/cases/{case_id}/complaints",
        json={"number": "PNC-SON-2026-0001", "filed_on": "2026-11-01"},
        headers=pnc.headers,
    )
    assert complaint.status_code == 201, complaint.get_json()
    close(client, pnc, case_id)
    with_complaint = ask_erasure(client, pnc, case_id)
    assert with_complaint.status_code == 409
    assert "denuncia presentada ante la PNC o la Fiscalía" in with_complaint.get_json()["message"]

    other = new_case(client, pnc, given_names="Rosa Elena", dui="04567891-1")
    close(client, pnc, other)
    client.post(
        f"{API}/cases/{other}/legal-hold",
        json={"hold": True, "reason": "Solicitud de la Fiscalía en curso"},
        headers=supervisor.headers,
    )
    held = ask_erasure(client, pnc, other)
    assert held.status_code == 409 and "retención legal" in held.get_json()["message"]


def test_a_hold_set_after_approval_still_keeps_the_record(app, client, pnc, supervisor):
    case_id = new_case(client, pnc)
    close(client, pnc, case_id)
    request_id = ask_erasure(client, pnc, case_id).get_json()["id"]
    client.post(
        f"{API}/erasures/{request_id}/review", json={"approve": True}, headers=supervisor.headers
    )
    client.post(
        f"{API}/cases/{case_id}/legal-hold",
        json={"hold": True, "reason": "Orden judicial de conservar el expediente"},
        headers=supervisor.headers,
    )
    assert "purged 0 records" in purge(app).output
    assert opens(app, case_id)


# ---- who may do what ------------------------------------------------------------------


def test_only_supervisors_hold_and_decide_and_only_full_parties_ask(
    app, client, pnc, womens, health, supervisor, admin
):
    case_id = new_case(client, pnc)
    close(client, pnc, case_id)
    hold = {"hold": True, "reason": "Proceso judicial pendiente"}
    for person in (pnc, womens, admin):
        refused = client.post(
            f"{API}/cases/{case_id}/legal-hold", json=hold, headers=person.headers
        )
        assert refused.status_code == 403, person.role
    # Not a party: the record does not exist for her.
    assert ask_erasure(client, health, case_id).status_code == 404
    # A supervisor does not ask (she decides); an administrator neither.
    assert ask_erasure(client, supervisor, case_id).status_code == 403
    assert ask_erasure(client, admin, case_id).status_code == 403
    request_id = ask_erasure(client, pnc, case_id).get_json()["id"]
    for person in (pnc, admin):
        review = client.post(
            f"{API}/erasures/{request_id}/review", json={"approve": True}, headers=person.headers
        )
        assert review.status_code == 403, person.role
        assert client.get(f"{API}/erasures", headers=person.headers).status_code == 403
    assert (
        client.post(
            f"{API}/erasures/{uuid.uuid4()}/review",
            json={"approve": True},
            headers=supervisor.headers,
        ).status_code
        == 404
    )


def test_an_own_parts_party_may_not_ask_for_erasure(app, client, pnc, womens):
    body = intake(consent={"share_with_network": False, "statistics": True, "police": True})
    case_id = client.post(f"{API}/cases", json=body, headers=pnc.headers).get_json()["id"]
    joined = client.post(f"{API}/cases", json=intake(), headers=womens.headers)
    assert joined.get_json()["access"] == "own_parts"
    close(client, pnc, case_id)
    assert ask_erasure(client, womens, case_id).status_code == 403


# ---- the keys ---------------------------------------------------------------------------


def test_keys_rotate_leaves_cohort_wrappings_and_reopening_moves_the_key_back(app, client, pnc):
    closed = new_case(client, pnc)
    close(client, pnc, closed)
    cohort, _ = key_row(app, closed)
    assert is_cohort_id(cohort)

    rotated = cli(app, "keys", "rotate")

    assert rotated.exit_code == 0, rotated.output
    assert key_row(app, closed)[0] == cohort
    assert opens(app, closed)
    record = client.get(f"{API}/cases/{closed}", headers=pnc.headers).get_json()
    reopened = client.post(
        f"{API}/cases/{closed}/status",
        json={"status": "open", "reason": "new_incident", "version": record["version"]},
        headers=pnc.headers,
    )
    assert reopened.status_code == 200, reopened.get_json()
    kek, _ = key_row(app, closed)
    assert kek == read_key_file(app.config["RUTA_KEY_FILE"]).active_kek_id
    assert opens(app, closed)


def test_purge_moves_cases_closed_before_cohorts_into_theirs(app, client, pnc):
    case_id = new_case(client, pnc)
    close(client, pnc, case_id)
    with app.app_context():
        # As a case closed before migration 0016: its key still under the KEK.
        ring = app.extensions["ruta.keyring"]
        key = db.session.get(DataKey, case_row(case_id).data_key_id)
        from app.crypto.cohorts import _rewrap

        _rewrap(ring, key, ring.active_kek_id)
        db.session.commit()

    result = purge(app)

    assert "1 data keys put under their retention cohort key" in result.output
    assert is_cohort_id(key_row(app, case_id)[0])
    assert opens(app, case_id)


def test_an_interrupted_purge_loses_nothing_and_the_next_run_finishes_it(
    app, client, pnc, monkeypatch
):
    seeded = Seeded()
    ids = open_cases(client, pnc, seeded, 4, municipality="Sonsonate", types=["physical"])
    for case_id in ids:
        close(client, pnc, case_id)
    for case_id in ids[:3]:
        closed_years_ago(app, case_id, 11)
    cohort = key_row(app, ids[0])[0]
    import app.retention.purge as purging

    def crash(session, ring):
        raise KeyboardInterrupt  # after the first batch's commit, before its key goes

    monkeypatch.setattr(purging, "drop_destroyed", crash)
    interrupted = cli(app, "records", "purge", "--batch", "1")
    assert interrupted.exit_code != 0
    with app.app_context():
        assert sum(case_row(cid).purged_at is not None for cid in ids) == 1
    assert cohort in read_key_file(app.config["RUTA_KEY_FILE"]).cohorts  # left behind
    monkeypatch.undo()

    finished = purge(app, "--batch", "1")

    assert "purged 2 records" in finished.output
    assert cohort not in read_key_file(app.config["RUTA_KEY_FILE"]).cohorts
    assert [opens(app, case_id) for case_id in ids] == [False, False, False, True]
    audit_ok(app)


def test_a_purged_records_attachment_files_are_deleted_and_the_others_stay(app, client, pnc):
    ids = [new_case(client, pnc), new_case(client, pnc, given_names="Rosa Elena", dui="04567891-1")]
    for case_id in ids:
        sent = client.post(
            f"{API}/cases/{case_id}/attachments",
            headers=pnc.headers,
            data={"file": (io.BytesIO(one_page_pdf()), "informe.pdf")},
        )
        assert sent.status_code == 201, sent.get_json()
        close(client, pnc, case_id)
    closed_years_ago(app, ids[0], 10.1)
    directory = Path(app.config["RUTA_ATTACHMENTS_DIR"])
    with app.app_context():
        files = {
            cid: attachment_path(
                directory,
                db.session.scalars(
                    select(Attachment.storage_name).where(Attachment.case_id == uuid.UUID(cid))
                ).one(),
            )
            for cid in ids
        }
    assert all(path.exists() for path in files.values())

    result = purge(app)

    assert "1 attachment files removed" in result.output
    assert not files[ids[0]].exists()
    assert files[ids[1]].exists()
    downloaded = client.get(f"{API}/cases/{ids[1]}", headers=pnc.headers)
    assert downloaded.status_code == 200
    audit_ok(app)
