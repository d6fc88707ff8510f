"""The justice pathway of a denuncia (issue 13): received → forwarded → requerimiento →
hearings → sentenced | dismissed, each move by its role; the FGR and court file numbers
sealed; hearings on the parties' task lists; and, only if she chooses, her next
hearing's date in her status lookup. Conciliation is refused (LEIV art. 58)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.core.time import LOCAL_TZ
from app.extensions import db
from tests.auth_helpers import csrf_token, is_signed_in, otp, web_login, web_logout
from tests.conftest import PASSWORD, Person
from tests.factories import intake
from tests.kept_world import world_fixtures
from tests.test_database_plaintext import database_bytes, leaked

API = "/api/v1"
COMPLAINT = "DEN-JUS-4417"
FGR_NUMBER = "FGR-UAM-SONSO-0931"
COURT_NUMBER = "JEVLV-SON-2026-0388"
HEARING_NOTE = "NOTA-AUDIENCIA-la defensa pidio aplazar"


@dataclass
class Pathway:
    case_id: str
    complaint_id: str
    ids: dict[str, int]
    slip: tuple[str, str]
    pnc: Person
    fiscal: Person
    court: Person
    pgr: Person

    @property
    def base(self) -> str:
        return f"{API}/cases/{self.case_id}"

    @property
    def complaint(self) -> str:
        return f"{self.base}/complaints/{self.complaint_id}"


def ok(response, status: int = 200):
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def _serve(client, pnc: Person, receiver: Person, case_id: str, ids: dict, service: str) -> None:
    """The receiver takes the referral, works it and completes it: it stays a party."""
    body = {
        "to_institution": ids[receiver.institution],
        "service": service,
        "urgency": "routine",
        "reason": "Proceso judicial",
        "consent": True,
    }
    referral = ok(
        client.post(f"{API}/cases/{case_id}/referrals", json=body, headers=pnc.headers), 201
    )
    move = f"{API}/referrals/{referral['id']}/transition"
    for action in ("accept", "start"):
        ok(client.post(move, headers=receiver.headers, json={"action": action}))


def build_pathway(_app, client, make_person, people) -> Pathway:
    """A case with a complaint, served by the prosecutor, the court and the PGR."""
    pnc = people["pnc"]
    ids = {
        i["code"]: i["id"]
        for i in client.get(f"{API}/institutions", headers=pnc.headers).get_json()["items"]
    }
    opened = ok(client.post(f"{API}/cases", json=intake(), headers=pnc.headers), 201)
    filed = ok(
        client.post(
            f"{API}/cases/{opened['id']}/complaints",
            headers=pnc.headers,
            json={"number": COMPLAINT},
        ),
        201,
    )
    fiscal = make_person("prosecutor_staff", "FGR-SON")
    court = make_person("court_staff", "JUZ-SON")
    pgr = make_person("legal_aid_staff", "PGR-SON")
    for person, service in (
        (fiscal, "prosecution"),
        (court, "protection_measures"),
        (pgr, "legal_aid"),
    ):
        _serve(client, pnc, person, opened["id"], ids, service)
    slip = (opened["status_code"], opened["status_pin"])
    return Pathway(opened["id"], filed["id"], ids, slip, pnc, fiscal, court, pgr)


# Built once per module and worker (tests/kept_world.py).
kept_pathway, settings, pnc, pathway = world_fixtures("pathway", build_pathway, ("pnc",))


def complaint_of(client, pathway: Pathway, reader: Person) -> dict:
    record = ok(client.get(pathway.base, headers=reader.headers))
    [complaint] = [c for c in record["complaints"] if c["id"] == pathway.complaint_id]
    return complaint


def move(client, pathway: Pathway, person: Person, action: str, version: int | None = None):
    if version is None:
        version = complaint_of(client, pathway, pathway.pnc)["version"]
    return client.post(
        f"{pathway.complaint}/transition",
        headers=person.headers,
        json={"action": action, "version": version},
    )


def in_days(days: float, hour: int = 9) -> datetime:
    moment = datetime.now(LOCAL_TZ) + timedelta(days=days)
    return moment.replace(hour=hour, minute=0, second=0, microsecond=0)


def schedule(client, pathway: Pathway, person: Person, when: datetime, kind: str = "initial"):
    body = {
        "starts_at": when.replace(tzinfo=None).isoformat(),
        "court_id": pathway.ids["JUZ-SON"],
        "kind": kind,
    }
    return client.post(f"{pathway.complaint}/hearings", headers=person.headers, json=body)


def to_requerimiento(client, pathway: Pathway) -> None:
    ok(move(client, pathway, pathway.pnc, "forward"))
    ok(move(client, pathway, pathway.fiscal, "file_requerimiento"))


# ---- the moves, by their roles -----------------------------------------------------------


def test_the_complaint_goes_from_received_to_sentenced_each_move_by_its_role(client, pathway):
    assert complaint_of(client, pathway, pathway.pgr)["status"] == "received"
    assert ok(move(client, pathway, pathway.pnc, "forward"))["status"] == "forwarded"
    assert (
        ok(move(client, pathway, pathway.fiscal, "file_requerimiento"))["status"] == "requerimiento"
    )
    hearing = ok(schedule(client, pathway, pathway.fiscal, in_days(20)), 201)
    assert hearing["court"] == "Juzgado Especializado para una Vida Libre de Violencia"
    assert complaint_of(client, pathway, pathway.court)["status"] == "hearings"
    assert ok(move(client, pathway, pathway.court, "sentence"))["status"] == "sentenced"

    complaint = complaint_of(client, pathway, pathway.pgr)
    history = [
        (m["action"], m["from_status"], m["to_status"], m["institution"])
        for m in complaint["status_history"]
    ]
    assert history == [
        ("forward", "received", "forwarded", "PNC-SON"),
        ("file_requerimiento", "forwarded", "requerimiento", "FGR-SON"),
        ("schedule_hearing", "requerimiento", "hearings", "FGR-SON"),
        ("sentence", "hearings", "sentenced", "JUZ-SON"),
    ]
    assert [h["kind"] for h in complaint["hearings"]] == ["initial"]


def test_the_court_dismisses_a_complaint_in_its_hearings(client, pathway):
    to_requerimiento(client, pathway)
    ok(schedule(client, pathway, pathway.court, in_days(15), "preliminary"), 201)
    assert ok(move(client, pathway, pathway.court, "dismiss"))["status"] == "dismissed"
    # Over: no hearing is scheduled on a dismissed complaint.
    assert schedule(client, pathway, pathway.court, in_days(30)).status_code == 409


@pytest.mark.parametrize(
    ("who", "action"),
    [
        ("court", "forward"),
        ("pgr", "forward"),
        ("pnc", "file_requerimiento"),
        ("court", "file_requerimiento"),
        ("fiscal", "sentence"),
        ("pnc", "dismiss"),
        ("pgr", "sentence"),
    ],
)
def test_a_role_that_does_not_make_a_move_is_refused_403(client, pathway, who, action):
    response = move(client, pathway, getattr(pathway, who), action)
    assert response.status_code == 403
    assert complaint_of(client, pathway, pathway.pnc)["status"] == "received"


@pytest.mark.parametrize("who", ["pnc", "pgr"])
def test_only_prosecutor_and_court_staff_schedule_hearings(client, pathway, who):
    to_requerimiento(client, pathway)
    assert schedule(client, pathway, getattr(pathway, who), in_days(5)).status_code == 403
    assert complaint_of(client, pathway, pathway.pnc)["hearings"] == []


def test_a_move_not_allowed_from_the_status_is_409_and_a_stale_version_too(client, pathway):
    assert move(client, pathway, pathway.court, "sentence").status_code == 409
    assert move(client, pathway, pathway.fiscal, "file_requerimiento").status_code == 409
    read = complaint_of(client, pathway, pathway.pnc)["version"]
    ok(move(client, pathway, pathway.pnc, "forward", read))
    stale = move(client, pathway, pathway.fiscal, "file_requerimiento", read)
    assert stale.status_code == 409
    assert complaint_of(client, pathway, pathway.pnc)["status"] == "forwarded"
    # No hearing before the requerimiento.
    assert schedule(client, pathway, pathway.fiscal, in_days(5)).status_code == 409


@pytest.mark.parametrize("action", ["conciliate", "mediate"])
def test_conciliation_and_mediation_are_refused_by_law(client, pathway, action):
    to_requerimiento(client, pathway)
    for person in (pathway.fiscal, pathway.court):
        response = move(client, pathway, person, action)
        body = response.get_json()
        assert response.status_code == 422
        assert body["error"] == "conciliation_prohibited"
        assert "LEIV, art. 58" in body["message"]
        assert "prohibidas" in body["message"]
    assert complaint_of(client, pathway, pathway.pnc)["status"] == "requerimiento"


def test_an_institution_that_is_not_a_party_gets_404(client, pathway, make_person):
    other_fiscal = make_person("prosecutor_staff", "FGR-STA")
    other_court = make_person("court_staff", "JUZ-STA")
    assert move(client, pathway, other_fiscal, "forward").status_code == 404
    numbers = {"fgr_number": "X-1", "version": 1}
    assert (
        client.post(
            f"{pathway.complaint}/file-numbers", headers=other_fiscal.headers, json=numbers
        ).status_code
        == 404
    )
    assert schedule(client, pathway, other_court, in_days(3)).status_code == 404


def test_an_unknown_action_or_court_is_422(client, pathway):
    bad = client.post(
        f"{pathway.complaint}/transition",
        headers=pathway.pnc.headers,
        json={"action": "archive", "version": 1},
    )
    assert bad.status_code == 422
    assert "action" in bad.get_json()["fields"]
    to_requerimiento(client, pathway)
    body = {"starts_at": "2027-01-12T09:00", "court_id": pathway.ids["FGR-SON"], "kind": "initial"}
    not_a_court = client.post(
        f"{pathway.complaint}/hearings", headers=pathway.court.headers, json=body
    )
    assert not_a_court.status_code == 422
    assert "court_id" in not_a_court.get_json()["fields"]


# ---- file numbers ------------------------------------------------------------------------


def set_number(client, pathway: Pathway, person: Person, field: str, value: str, version: int):
    body = {field: value, "version": version}
    return client.post(f"{pathway.complaint}/file-numbers", headers=person.headers, json=body)


def number_both(client, pathway: Pathway) -> None:
    version = complaint_of(client, pathway, pathway.pnc)["version"]
    numbered = ok(set_number(client, pathway, pathway.fiscal, "fgr_number", FGR_NUMBER, version))
    ok(
        set_number(
            client, pathway, pathway.court, "court_number", COURT_NUMBER, numbered["version"]
        )
    )


@pytest.mark.parametrize(
    ("who", "field"),
    [
        ("court", "fgr_number"),
        ("pnc", "fgr_number"),
        ("fiscal", "court_number"),
        ("pgr", "court_number"),
    ],
)
def test_a_file_number_is_set_by_its_own_institution_only(client, pathway, who, field):
    version = complaint_of(client, pathway, pathway.pnc)["version"]
    refused = set_number(client, pathway, getattr(pathway, who), field, "X-77", version)
    assert refused.status_code == 403
    assert complaint_of(client, pathway, pathway.pnc)[field] is None


def test_each_justice_role_sets_its_own_file_number_and_the_parties_read_them(client, pathway):
    number_both(client, pathway)
    for reader in (pathway.pnc, pathway.fiscal, pathway.court, pathway.pgr):
        complaint = complaint_of(client, pathway, reader)
        assert (complaint["fgr_number"], complaint["court_number"]) == (FGR_NUMBER, COURT_NUMBER)


def test_file_numbers_and_hearing_notes_are_not_in_the_database_in_plaintext(app, client, pathway):
    number_both(client, pathway)
    to_requerimiento(client, pathway)
    hearing = ok(schedule(client, pathway, pathway.court, in_days(2)), 201)
    outcome = {"outcome": "postponed", "note": HEARING_NOTE, "version": hearing["version"]}
    url = f"{pathway.base}/hearings/{hearing['id']}"
    ok(client.patch(url, headers=pathway.court.headers, json=outcome))

    dump = database_bytes(app)
    assert b"requerimiento" in dump  # the search works: the codes are plain
    assert leaked(dump, {FGR_NUMBER, COURT_NUMBER, HEARING_NOTE, COMPLAINT}) == []
    assert complaint_of(client, pathway, pathway.pgr)["hearings"][0]["note"] == HEARING_NOTE


# ---- hearings: outcome, and the parties' task lists --------------------------------------


def hearing_tasks(client, person: Person) -> list[tuple[str, str]]:
    items = ok(client.get(f"{API}/tasks", headers=person.headers))["items"]
    return [(t["case_id"], t["detail"]) for t in items if t["kind"] == "hearing_upcoming"]


def test_a_hearing_of_the_coming_week_is_on_every_party_task_list_and_nobody_else(
    client, pathway, make_person, health
):
    to_requerimiento(client, pathway)
    ok(schedule(client, pathway, pathway.court, in_days(3), "measures"), 201)
    ok(schedule(client, pathway, pathway.court, in_days(12), "preliminary"), 201)  # not yet
    expected = [(pathway.case_id, "measures")]
    for person in (pathway.pnc, pathway.fiscal, pathway.court, pathway.pgr):
        assert hearing_tasks(client, person) == expected, person.role
    assert hearing_tasks(client, health) == []  # not a party to her case
    assert hearing_tasks(client, make_person("court_staff", "JUZ-STA")) == []

    web_login(client, pathway.pgr.username, PASSWORD, otp(pathway.pgr.totp_secret))
    board = client.get("/").get_data(as_text=True)
    assert "Audiencia en los próximos 7 días" in board
    assert "Audiencia de medidas" in board


def test_a_hearing_with_its_outcome_leaves_the_task_lists(client, pathway):
    to_requerimiento(client, pathway)
    hearing = ok(schedule(client, pathway, pathway.fiscal, in_days(1)), 201)
    url = f"{pathway.base}/hearings/{hearing['id']}"
    assert (
        client.patch(
            url, headers=pathway.pgr.headers, json={"outcome": "held", "version": 1}
        ).status_code
        == 403
    )
    assert (
        client.patch(
            url, headers=pathway.court.headers, json={"outcome": "held", "version": 9}
        ).status_code
        == 409
    )
    held = ok(
        client.patch(
            url,
            headers=pathway.court.headers,
            json={"outcome": "held", "version": hearing["version"]},
        )
    )
    assert held["outcome"] == "held"
    assert hearing_tasks(client, pathway.pgr) == []


# ---- her status lookup: the date of her hearing, only if she chose it ---------------------


def lookup(client, pathway: Pathway) -> dict:
    code, pin = pathway.slip
    return ok(client.post(f"{API}/status", json={"code": code, "pin": pin}))


def test_her_status_lookup_says_nothing_of_hearings_without_her_choice(client, pathway):
    to_requerimiento(client, pathway)
    ok(schedule(client, pathway, pathway.court, in_days(4)), 201)
    answer = lookup(client, pathway)
    assert "audiencia" not in repr(answer).lower()
    assert set(answer) == {"status", "next_step"}


def test_with_her_choice_her_status_lookup_gives_the_date_and_time_only(client, pathway):
    to_requerimiento(client, pathway)
    when = in_days(9, hour=9)
    ok(schedule(client, pathway, pathway.court, when, "sentencing"), 201)
    choice = {"show_hearings_in_status": True}
    ok(client.post(f"{pathway.base}/hearing-notice", headers=pathway.pgr.headers, json=choice), 201)
    said = f"Su audiencia es el {when:%d/%m/%Y} a las 09:00."

    answer = lookup(client, pathway)
    assert answer["next_step"] == said
    assert "Juzgado" not in repr(answer) and "sentencia" not in repr(answer).lower()
    page = client.post("/status", data=status_form(client, pathway)).get_data(as_text=True)
    assert said in page
    assert "Juzgado" not in page

    record = ok(client.get(pathway.base, headers=pathway.pnc.headers))
    assert record["hearing_notice"]["show_hearings_in_status"] is True
    # She changes her mind: the line goes away at once.
    off = {"show_hearings_in_status": False}
    ok(client.post(f"{pathway.base}/hearing-notice", headers=pathway.pnc.headers, json=off), 201)
    assert "audiencia" not in lookup(client, pathway)["next_step"].lower()


def status_form(client, pathway: Pathway) -> dict:
    code, pin = pathway.slip
    page = client.get("/status").get_data(as_text=True)
    return {"code": code, "pin": pin, "csrf_token": csrf_token(page)}


# ---- the case page ---------------------------------------------------------------------


def page_of(client, pathway: Pathway, person: Person) -> str:
    if is_signed_in(client):
        web_logout(client)
    web_login(client, person.username, PASSWORD, otp(person.totp_secret))
    return client.get(f"/cases/{pathway.case_id}").get_data(as_text=True)


def post_on_page(client, pathway: Pathway, path: str, data: dict) -> str:
    page = client.get(f"/cases/{pathway.case_id}").get_data(as_text=True)
    response = client.post(
        f"/cases/{pathway.case_id}{path}", data={**data, "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 303, response.status_code
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_on_the_case_page_each_role_makes_its_moves_and_reads_the_pathway(client, pathway):
    version = complaint_of(client, pathway, pathway.pnc)["version"]
    pnc_page = page_of(client, pathway, pathway.pnc)
    assert "Remitir a la Fiscalía" in pnc_page
    forwarded = post_on_page(
        client,
        pathway,
        f"/complaints/{pathway.complaint_id}/transition",
        {"action": "forward", "version": version},
    )
    assert "Paso de la denuncia registrado." in forwarded

    fiscal_page = page_of(client, pathway, pathway.fiscal)
    assert "Presentar requerimiento fiscal" in fiscal_page
    assert "Número de expediente fiscal" in fiscal_page
    assert "Número de expediente judicial" not in fiscal_page  # the court's to set
    version = complaint_of(client, pathway, pathway.pnc)["version"]
    post_on_page(
        client,
        pathway,
        f"/complaints/{pathway.complaint_id}/transition",
        {"action": "file_requerimiento", "version": version},
    )
    version = complaint_of(client, pathway, pathway.pnc)["version"]
    numbered = post_on_page(
        client,
        pathway,
        f"/complaints/{pathway.complaint_id}/file-numbers",
        {"fgr_number": FGR_NUMBER, "version": version},
    )
    assert FGR_NUMBER in numbered

    when = in_days(6, hour=14)
    court_page = page_of(client, pathway, pathway.court)
    assert "Programar audiencia" in court_page
    scheduled = post_on_page(
        client,
        pathway,
        f"/complaints/{pathway.complaint_id}/hearings",
        {
            "starts_at": when.strftime("%Y-%m-%dT%H:%M"),
            "court_id": pathway.ids["JUZ-SON"],
            "kind": "initial",
        },
    )
    assert "Audiencia programada." in scheduled
    assert "Audiencia inicial" in scheduled
    assert "En audiencias" in scheduled

    pgr_page = page_of(client, pathway, pathway.pgr)
    assert FGR_NUMBER in pgr_page and "Audiencia inicial" in pgr_page
    assert "Con requerimiento fiscal" not in pgr_page or "En audiencias" in pgr_page
    assert "Registrar paso" not in pgr_page  # legal aid reads the pathway; it makes no move
    assert "Programar audiencia" not in pgr_page


def test_the_page_refuses_conciliation_with_the_law_and_keeps_what_was_typed(client, pathway):
    to_requerimiento(client, pathway)
    page_of(client, pathway, pathway.fiscal)
    version = complaint_of(client, pathway, pathway.pnc)["version"]
    refused = post_on_page(
        client,
        pathway,
        f"/complaints/{pathway.complaint_id}/transition",
        {"action": "conciliate", "version": version},
    )
    assert "LEIV, art. 58" in refused
    assert complaint_of(client, pathway, pathway.pnc)["status"] == "requerimiento"

    page_of(client, pathway, pathway.court)
    typed = {
        "starts_at": "el martes temprano",
        "court_id": pathway.ids["JUZ-SON"],
        "kind": "measures",
    }
    again = post_on_page(client, pathway, f"/complaints/{pathway.complaint_id}/hearings", typed)
    assert 'value="el martes temprano"' in again
    assert 'class="error"' in again
    assert complaint_of(client, pathway, pathway.pnc)["hearings"] == []


def test_her_choice_is_recorded_from_the_case_page(client, pathway):
    page_of(client, pathway, pathway.pgr)
    done = post_on_page(client, pathway, "/hearing-notice", {"show_hearings_in_status": "y"})
    assert "Su decisión sobre la consulta de estado quedó registrada." in done
    assert ok(client.get(pathway.base, headers=pathway.pnc.headers))["hearing_notice"][
        "show_hearings_in_status"
    ]


def test_each_step_of_the_pathway_is_audited_in_order_and_a_refusal_changes_nothing(
    app, client, pathway
):
    to_requerimiento(client, pathway)
    hearing = ok(schedule(client, pathway, pathway.court, in_days(8), "preliminary"), 201)
    assert move(client, pathway, pathway.court, "conciliate").status_code == 422
    number_both(client, pathway)
    outcome = {"outcome": "suspended", "version": hearing["version"]}
    ok(
        client.patch(
            f"{pathway.base}/hearings/{hearing['id']}", headers=pathway.court.headers, json=outcome
        )
    )
    ok(
        client.post(
            f"{pathway.base}/hearing-notice",
            headers=pathway.pgr.headers,
            json={"show_hearings_in_status": True},
        ),
        201,
    )
    with app.app_context():
        stmt = (
            select(AuditEvent.username, AuditEvent.detail)
            .where(
                AuditEvent.case_id == uuid.UUID(pathway.case_id),
                AuditEvent.action == "case_update",
                AuditEvent.object_type.in_(("complaint", "hearing", "hearing_notice")),
                AuditEvent.detail != "complaint",
            )
            .order_by(AuditEvent.id)
        )
        trail = [tuple(row) for row in db.session.execute(stmt).all()]
    assert trail == [
        (pathway.pnc.username, "move:forward"),
        (pathway.fiscal.username, "move:file_requerimiento"),
        (pathway.court.username, "hearing:preliminary"),
        (pathway.fiscal.username, "file_number:fgr_number"),
        (pathway.court.username, "file_number:court_number"),
        (pathway.court.username, "hearing_outcome:suspended"),
        (pathway.pgr.username, "hearing_notice:on"),
    ]


def test_a_move_keeps_the_date_it_happened_and_refuses_a_future_one(client, pathway):
    version = complaint_of(client, pathway, pathway.pnc)["version"]
    url = f"{pathway.complaint}/transition"
    future = (datetime.now(LOCAL_TZ) + timedelta(days=2)).date().isoformat()
    body = {"action": "forward", "version": version, "moved_on": future}
    refused = client.post(url, headers=pathway.pnc.headers, json=body)
    assert refused.status_code == 422
    assert "moved_on" in refused.get_json()["fields"]
    before = client.post(url, headers=pathway.pnc.headers, json={**body, "moved_on": "2026-01-03"})
    assert before.status_code == 422  # before the complaint was filed
    today = datetime.now(LOCAL_TZ).date().isoformat()
    ok(client.post(url, headers=pathway.pnc.headers, json={**body, "moved_on": today}))
    [moved] = complaint_of(client, pathway, pathway.fiscal)["status_history"]
    assert moved["moved_on"] == today
