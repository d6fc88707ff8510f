"""The justice pathway of a denuncia (issue 13): received → forwarded → requerimiento →
hearings → sentenced | dismissed, each move by its role; the FGR and court file numbers
sealed; hearings on the parties' task lists; and, only if she chooses, her next
hearing's date in her status lookup. Conciliation is refused (LEIV art. 58)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from app.core.time import LOCAL_TZ
from tests.auth_helpers import otp, web_login
from tests.conftest import PASSWORD, Person
from tests.factories import intake

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


@pytest.fixture
def pathway(client, pnc, make_person) -> Pathway:
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


def test_each_justice_role_sets_its_own_file_number_and_the_parties_read_them(client, pathway):
    url = f"{pathway.complaint}/file-numbers"
    version = complaint_of(client, pathway, pathway.pnc)["version"]
    assert (
        client.post(
            url, headers=pathway.court.headers, json={"fgr_number": FGR_NUMBER, "version": version}
        ).status_code
        == 403
    )
    assert (
        client.post(
            url, headers=pathway.pnc.headers, json={"fgr_number": FGR_NUMBER, "version": version}
        ).status_code
        == 403
    )
    set_fgr = ok(
        client.post(
            url, headers=pathway.fiscal.headers, json={"fgr_number": FGR_NUMBER, "version": version}
        )
    )
    assert (
        client.post(
            url,
            headers=pathway.fiscal.headers,
            json={"court_number": COURT_NUMBER, "version": set_fgr["version"]},
        ).status_code
        == 403
    )
    ok(
        client.post(
            url,
            headers=pathway.court.headers,
            json={"court_number": COURT_NUMBER, "version": set_fgr["version"]},
        )
    )
    for reader in (pathway.pnc, pathway.fiscal, pathway.court, pathway.pgr):
        complaint = complaint_of(client, pathway, reader)
        assert (complaint["fgr_number"], complaint["court_number"]) == (FGR_NUMBER, COURT_NUMBER)
