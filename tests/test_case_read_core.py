"""The case read without the ORM (issue 16): the record a party gets from the Core
statement is exactly the one the ORM objects gave, part for part, on both databases;
and the read stays within its few statements."""

from __future__ import annotations

import io
import uuid

from sqlalchemy import event, select
from sqlalchemy.orm import contains_eager, joinedload

from app.auth.caller import Caller
from app.auth.models import User
from app.cases import access, policy
from app.cases.models import Case
from app.cases.present import present_case
from app.cases.record_models import Correction
from app.extensions import db
from tests.conftest import USING_PG
from tests.factories import incident, intake, one_page_pdf


def _every_part(client, person) -> str:
    """A case with a second incident, a note, a follow-up and its outcome, a risk
    assessment, a safety plan, a complaint with a measure, a status change, a new
    consent, a correction and an attachment: every part the record has."""
    created = client.post("/api/v1/cases", json=intake(), headers=person.headers)
    assert created.status_code == 201
    case_id = created.get_json()["id"]
    base = f"/api/v1/cases/{case_id}"
    writes = [
        ("post", f"{base}/incidents", incident(occurred_on="2026-11-03", narrative="Otro hecho.")),
        ("post", f"{base}/notes", {"kind": "medical", "text": "Atención brindada"}),
        ("post", f"{base}/follow-ups", {"due_on": "2026-12-05", "channel": "visit"}),
        ("post", f"{base}/risk-assessments", {"answers": {str(n): n < 4 for n in range(1, 25)}}),
        ("put", f"{base}/safety-plan", {"plan": "Plan de seguridad acordado"}),
        (
            "post",
            f"{base}/complaints",
            {"number": "DEN-7", "measures": [{"measure": "keep_away", "court": "Juzgado 2"}]},
        ),
        ("post", f"{base}/status", {"status": "open"}),  # the follow-up made it follow_up
        ("post", f"{base}/consent", {"statistics": False}),
        ("patch", f"{base}/survivor", {"phone": "7000-0000", "reason": "Nuevo", "version": 1}),
    ]
    for method, url, body in writes:
        answer = getattr(client, method)(url, json=body, headers=person.headers)
        assert answer.status_code in (200, 201), (url, answer.get_json())
    follow_up = client.get(base, headers=person.headers).get_json()["follow_ups"][0]
    done = client.post(
        f"{base}/follow-ups/{follow_up['id']}/outcome",
        json={"outcome": "done", "note": "Contestó", "version": follow_up["version"]},
        headers=person.headers,
    )
    assert done.status_code == 200, done.get_json()
    uploaded = client.post(
        f"{base}/attachments",
        data={"file": (io.BytesIO(one_page_pdf()), "informe.pdf"), "description": "Informe"},
        headers=person.headers,
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.get_json()
    return case_id


def _orm_case(case_id: uuid.UUID) -> Case:
    """The same case as the ORM loaded it before the Core read (every part, selectin)."""
    stmt = (
        select(Case)
        .join(Case.survivor)
        .options(contains_eager(Case.survivor), joinedload(Case.data_key))
        .where(Case.id == case_id)
    )
    row, _ = access._load(db.session, stmt, case_id, access._Load(True))
    return row[0]


def test_the_core_read_gives_the_record_the_orm_gave(app, client, pnc):
    case_id = uuid.UUID(_every_part(client, pnc))
    ring = app.extensions["ruta.keyring"]
    with app.app_context():
        caller = Caller(db.session.get_one(User, pnc.id), None, "api")
        found = access.case_for(
            db.session,
            caller,
            case_id,
            need=policy.READ,
            whole_record=True,
            others={"corrections": Correction},
        )
        assert isinstance(found.case, access.snapshot.Loaded)  # not a session object
        core = present_case(ring, found.case, found.view, caller.institution_id, found.responsible)
        orm = present_case(ring, _orm_case(case_id), found.view, caller.institution_id)
    assert found.others_present == {"corrections"}
    assert core.pop("responsible") is not None
    orm.pop("responsible")
    for part in ("incidents", "notes", "follow_ups", "risk_assessments", "complaints"):
        assert core[part], part  # the comparison below is over real rows
    assert core["complaints"][0]["measures"][0]["court"] == "Juzgado 2"
    assert core["attachments"][0]["filename"] == "informe.pdf"
    assert core == orm


def test_the_api_read_of_a_whole_record_is_four_statements_on_postgresql(app, client, pnc):
    case_id = _every_part(client, pnc)
    app.extensions["ruta.anchoring"].clock = lambda: 0.0  # no seal or anchor due meanwhile
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        read = client.get(f"/api/v1/cases/{case_id}", headers=pnc.headers)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert read.status_code == 200
    reads = [s for s in statements if not s.startswith("BEGIN")]
    if USING_PG:
        # the token, the whole record, the audit event (and corrections: this case has one)
        assert len(reads) == 4, reads
    else:
        assert len(reads) <= 16, reads
