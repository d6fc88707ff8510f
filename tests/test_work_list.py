"""The work list (`GET /api/v1/cases`, the `/cases` page): her institution's cases, the
filters and their counts, pages of 50, and her name decrypted only for the rows shown
and only where the institution sees the whole record."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.auth.models import User
from app.cases import search
from app.cases.care_models import FollowUp
from app.cases.models import Case, CaseParty
from app.cases.record_models import CaseAssignment
from app.core.time import local_today, utcnow
from app.extensions import db
from tests.auth_helpers import start_web_session
from tests.conftest import Person
from tests.factories import intake

NO_SHARING = {"share_with_network": False, "statistics": True, "police": False}


def open_case(
    client: FlaskClient,
    person: Person,
    name: str,
    consent: dict[str, Any] | None = None,
    **survivor: Any,
) -> str:
    body = intake(survivor_overrides={"dui": ..., "given_names": name, **survivor}, consent=consent)
    response = client.post("/api/v1/cases", json=body, headers=person.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def listed(client: FlaskClient, person: Person, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/cases", query_string=params, headers=person.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ids(client: FlaskClient, person: Person, **params: Any) -> list[str]:
    return [item["id"] for item in listed(client, person, **params)["items"]]


def set_case(app: Flask, case_id: str, **values: Any) -> None:
    with app.app_context():
        db.session.execute(update(Case).where(Case.id == uuid.UUID(case_id)).values(**values))
        db.session.commit()


def follow_up(
    app: Flask, client: FlaskClient, person: Person, case_id: str, due: Any, done: bool = False
) -> None:
    response = client.post(
        f"/api/v1/cases/{case_id}/follow-ups",
        json={"due_on": local_today().isoformat(), "channel": "visit"},
        headers=person.headers,
    )
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        db.session.execute(
            update(FollowUp)
            .where(FollowUp.id == uuid.UUID(response.get_json()["id"]))
            .values(due_on=due, done_on=local_today() if done else None)
        )
        db.session.commit()


@pytest.fixture
def colleague(make_person) -> Person:
    return make_person("pnc_agent", "PNC-SON", "agente.colega")


# ---- whose cases -----------------------------------------------------------------------


def test_a_worker_sees_only_her_institutions_cases(app, client, pnc, health, make_person):
    ours = open_case(client, pnc, "Ana")
    theirs = open_case(client, health, "Berta")
    stranger = make_person("pnc_agent", "PNC-ACA", "agente.acajutla")
    assert ids(client, pnc) == [ours]
    assert ids(client, health) == [theirs]
    assert ids(client, stranger) == []
    assert listed(client, stranger)["counts"] == {
        "all": 0,
        "mine": 0,
        "unassigned": 0,
        "overdue": 0,
    }
    with app.app_context():  # a party that ended (a cancelled referral) lists nothing
        db.session.execute(
            update(CaseParty).where(CaseParty.case_id == uuid.UUID(ours)).values(ended_at=utcnow())
        )
        db.session.commit()
    assert ids(client, pnc) == []


def test_assigned_to_me_unassigned_and_all_with_their_counts(
    app, client, pnc, colleague, make_person
):
    a, b = open_case(client, pnc, "Ana"), open_case(client, pnc, "Berta")
    c = open_case(client, colleague, "Carla")
    d = open_case(client, pnc, "Diana")
    gone = make_person("pnc_agent", "PNC-SON", "agente.retirada")
    e = open_case(client, gone, "Elena")
    with app.app_context():
        db.session.execute(
            update(CaseAssignment)
            .where(CaseAssignment.case_id == uuid.UUID(d))
            .values(user_id=None)
        )
        db.session.execute(update(User).where(User.id == gone.id).values(active=False))
        db.session.commit()
    assert sorted(ids(client, pnc, assigned="me")) == sorted([a, b])
    assert sorted(ids(client, pnc, assigned="unassigned")) == sorted([d, e])
    assert sorted(ids(client, pnc, assigned="all")) == sorted([a, b, c, d, e])
    assert sorted(ids(client, pnc)) == sorted([a, b, c, d, e])
    assert ids(client, colleague, assigned="me") == [c]
    counts = listed(client, pnc, assigned="me")["counts"]
    assert counts == {"all": 5, "mine": 2, "unassigned": 2, "overdue": 0}
    left = next(i for i in listed(client, pnc)["items"] if i["id"] == e)["assigned_to"]
    assert left == {"id": gone.id, "name": gone.username, "active": False}


def test_an_account_that_cannot_carry_cases_leaves_them_unassigned(app, client, pnc, colleague):
    """The SQL of "no active responsible" follows `policy.is_active_worker`."""
    case_id = open_case(client, colleague, "Ana")
    for change in ({"role": "supervisor"}, {"approved_at": None}, {"active": False}):
        with app.app_context():
            db.session.execute(update(User).where(User.id == colleague.id).values(**change))
            db.session.commit()
        assert ids(client, pnc, assigned="unassigned") == [case_id], change
        with app.app_context():
            db.session.execute(
                update(User)
                .where(User.id == colleague.id)
                .values(role="pnc_agent", approved_at=utcnow(), active=True)
            )
            db.session.commit()
        assert ids(client, pnc, assigned="unassigned") == []


# ---- what about them -------------------------------------------------------------------


def test_overdue_and_next_contact_count_only_her_institutions_pending_follow_ups(
    app, client, pnc, health
):
    today = local_today()
    late, soon, later, done, other = (
        open_case(client, pnc, name) for name in ("Ana", "Berta", "Carla", "Diana", "Elena")
    )
    follow_up(app, client, pnc, late, today - timedelta(days=3))
    follow_up(app, client, pnc, soon, today + timedelta(days=2))
    follow_up(app, client, pnc, later, today + timedelta(days=20))
    follow_up(app, client, pnc, done, today - timedelta(days=3), done=True)
    assert open_case(client, health, "Elena") == other  # health joins Elena's record
    follow_up(app, client, health, other, today - timedelta(days=3))  # not PNC's
    assert ids(client, pnc, overdue="1") == [late]
    assert sorted(ids(client, pnc, next_contact="7")) == sorted([late, soon])
    assert ids(client, pnc, next_contact="7", overdue="1") == [late]
    assert ids(client, pnc, sort="next_contact")[:3] == [late, soon, later]
    counts = listed(client, pnc)["counts"]
    assert counts["overdue"] == 1 and counts["all"] == 5
    item = next(i for i in listed(client, pnc)["items"] if i["id"] == soon)
    assert item["next_contact"] == (today + timedelta(days=2)).isoformat()
    assert ids(client, health, overdue="1") == [other]


def test_inactive_days_status_risk_and_municipality(app, client, pnc):
    quiet, busy = open_case(client, pnc, "Ana"), open_case(client, pnc, "Berta")
    far = open_case(client, pnc, "Carla", municipality="Acajutla")
    set_case(app, quiet, updated_at=utcnow() - timedelta(days=40))
    set_case(app, busy, risk_level="high", status="follow_up")
    assert ids(client, pnc, inactive_days="30") == [quiet]
    assert ids(client, pnc, status="follow_up") == [busy]
    assert ids(client, pnc, risk="high") == [busy]
    assert ids(client, pnc, municipality="Acajutla") == [far]
    assert ids(client, pnc, municipality="acajutla") == [far]
    assert ids(client, pnc, sort="risk")[0] == busy
    numbers = [i["number"] for i in listed(client, pnc, sort="number")["items"]]
    assert numbers == sorted(numbers)
    unknown = client.get(
        "/api/v1/cases", query_string={"municipality": "Atlántida"}, headers=pnc.headers
    )
    assert unknown.status_code == 422 and set(unknown.get_json()["fields"]) == {"municipality"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"assigned": "everyone"}, "assigned"),
        ({"sort": "name"}, "sort"),
        ({"overdue": "maybe"}, "overdue"),
        ({"next_contact": "-1"}, "next_contact"),
        ({"inactive_days": "0"}, "inactive_days"),
        ({"page": "0"}, "page"),
    ],
)
def test_bad_filters_are_422(client, pnc, params, field):
    response = client.get("/api/v1/cases", query_string=params, headers=pnc.headers)
    assert response.status_code == 422
    assert set(response.get_json()["fields"]) == {field}


@pytest.mark.parametrize("key", ["dui", "name", "birth_date", "phone", "Given_Names"])
def test_identifiers_in_the_url_are_refused(app, client, pnc, key):
    response = client.get("/api/v1/cases", query_string={key: "x"}, headers=pnc.headers)
    assert response.status_code == 400
    assert response.get_json()["error"] == "identifier_in_url"
    page_client = app.test_client()
    start_web_session(app, page_client, pnc.username)
    page = page_client.get("/cases", query_string={key: "López"})
    assert page.status_code == 400
    assert "López" not in page.get_data(as_text=True)


# ---- pages of fifty, and her name --------------------------------------------------------


def test_fifty_one_cases_make_two_pages_and_only_the_rows_shown_are_decrypted(
    app, client, pnc, monkeypatch
):
    opened = [open_case(client, pnc, f"Nombre{n:02d}") for n in range(51)]
    opened_keys: list[Any] = []
    real = search.cipher_for

    def counting(ring: Any, data_key: Any) -> Any:
        opened_keys.append(data_key.id)
        return real(ring, data_key)

    monkeypatch.setattr(search, "cipher_for", counting)
    first = listed(client, pnc)
    assert len(first["items"]) == 50 and first["next_page"] == 2
    assert len(opened_keys) == 50  # one key unwrapped per row shown, no more
    assert all(item["name"].startswith("Nombre") for item in first["items"])
    opened_keys.clear()
    second = listed(client, pnc, page="2")
    assert len(second["items"]) == 1 and second["next_page"] is None
    assert len(opened_keys) == 1
    listed_ids = [i["id"] for i in first["items"] + second["items"]]
    assert sorted(listed_ids) == sorted(opened)
    assert first["counts"]["all"] == 51 and first["counts"]["mine"] == 51
    newest = opened[-1]
    assert first["items"][0]["id"] == newest  # newest activity first
    assert listed(client, pnc, page="3")["items"] == []


def test_own_parts_rows_show_no_name_no_risk_and_are_never_decrypted(
    app, client, pnc, health, monkeypatch
):
    shared = open_case(client, pnc, "Ana")
    private = open_case(client, pnc, "Berta", consent=NO_SHARING)
    set_case(app, private, risk_level="high")
    for name in ("Ana", "Berta"):  # health meets both women: a match, a join each
        open_case(client, health, name, consent={"share_with_network": True})
    decrypted: list[Any] = []
    real = search.cipher_for
    monkeypatch.setattr(
        search, "cipher_for", lambda ring, key: decrypted.append(key.id) or real(ring, key)
    )
    items = {item["id"]: item for item in listed(client, health)["items"]}
    assert items[shared]["access"] == "full" and items[shared]["name"].startswith("Ana")
    assert items[private]["access"] == "own_parts"
    assert items[private]["name"] is None and items[private]["risk_level"] is None
    assert len(decrypted) == 1  # Ana's only
    assert ids(client, health, risk="high") == []  # the risk filter tells her nothing
    assert ids(client, health, municipality="Sonsonate") == [shared]
    assert ids(client, pnc, risk="high") == [private]


def test_each_list_is_audited_with_counts_only(app, client, pnc):
    open_case(client, pnc, "Ana")
    listed(client, pnc, assigned="me")
    with app.app_context():
        events = list(
            db.session.execute(select(AuditEvent).where(AuditEvent.action == "case_list")).scalars()
        )
    assert [e.detail for e in events] == ["page=1;rows=1;names=1"]
    assert events[0].username == pnc.username


# ---- the page --------------------------------------------------------------------------


def page_of(app: Flask, person: Person, **params: Any) -> tuple[int, str]:
    page_client = app.test_client()
    start_web_session(app, page_client, person.username)
    response = page_client.get("/cases", query_string=params)
    return response.status_code, response.get_data(as_text=True)


def test_the_work_list_page_shows_her_cases_with_tabs_and_links(app, client, pnc, colleague):
    mine = open_case(client, pnc, "Ana")
    open_case(client, colleague, "Berta")
    status, page = page_of(app, pnc)
    assert status == 200
    assert "Ana López Hernández" in page and "Berta López Hernández" in page
    assert f'href="/cases/{mine}"' in page
    assert re.search(r"Míos <span class=\"tag\">1</span>", page)
    assert re.search(r"Todos <span class=\"tag\">2</span>", page)
    assert "Sin responsable activo" in page and "Seguimiento vencido" in page
    assert pnc.username in page and colleague.username in page  # the responsible column
    assert 'href="/cases"' in page  # the header link to the list
    status, page = page_of(app, pnc, assigned="me")
    assert "Ana López Hernández" in page and "Berta López Hernández" not in page
    assert 'name="assigned" type="hidden" value="me"' in page  # the filters are kept


def test_the_page_keeps_the_filters_and_pages(app, client, pnc, monkeypatch):
    monkeypatch.setattr(search, "PAGE_SIZE", 1)
    open_case(client, pnc, "Ana")
    open_case(client, pnc, "Berta")
    status, page = page_of(app, pnc, status="open", sort="number")
    assert status == 200
    assert '<option selected value="open">' in page
    assert 'rel="next"' in page and "page=2" in page and "status=open" in page
    status, page = page_of(app, pnc, status="open", sort="number", page="2")
    assert 'rel="prev"' in page and 'rel="next"' not in page


def test_the_page_explains_a_bad_filter_and_keeps_what_was_typed(app, pnc):
    status, page = page_of(app, pnc, inactive_days="mucho")
    assert status == 422
    assert 'value="mucho"' in page
    assert "Not a valid integer" in page or "entero" in page


def test_supervisors_have_no_work_list_link(app, supervisor):
    page_client = app.test_client()
    start_web_session(app, page_client, supervisor.username)
    assert 'href="/cases"' not in page_client.get("/").get_data(as_text=True)
    assert page_client.get("/cases").status_code == 403


def test_the_list_finds_exactly_the_cases_the_loader_lets_her_see(app, client, pnc, health):
    """The work list is driven by her party rows (fast on every database); it must list
    what `access._visible` allows, once each, with the view `case_for` would give."""
    from app.cases import access, policy
    from app.cases.models import CaseExclusion

    plain, twice, ended, excluded, absorbed = (
        open_case(client, pnc, name) for name in ("Ana", "Berta", "Carla", "Diana", "Elena")
    )
    open_case(client, health, "Fabiola")  # not hers at all
    with app.app_context():
        pnc_institution = db.session.get(User, pnc.id).institution_id
        db.session.add(  # a second live row (a referral accepted later): listed once
            CaseParty(
                case_id=uuid.UUID(twice),
                institution_id=pnc_institution,
                reason="referral",
                access="own_parts",
            )
        )
        db.session.execute(
            update(CaseParty).where(CaseParty.case_id == uuid.UUID(ended)).values(ended_at=utcnow())
        )
        db.session.add(
            CaseExclusion(
                case_id=uuid.UUID(excluded),
                institution_id=pnc_institution,
                recorded_by_user_id=pnc.id,
            )
        )
        db.session.execute(
            update(Case)
            .where(Case.id == uuid.UUID(absorbed))
            .values(merged_into_id=uuid.UUID(plain))
        )
        db.session.commit()
    items = {item["id"]: item for item in listed(client, pnc)["items"]}
    assert len(listed(client, pnc)["items"]) == len(items)  # no case twice
    with app.app_context():
        user = db.session.get(User, pnc.id)
        allowed = set(
            map(str, db.session.execute(select(Case.id).where(access._visible(user))).scalars())
        )
        for case_id in allowed:
            expected = access.case_for(db.session, user, uuid.UUID(case_id), need="read").view
            assert items[case_id]["access"] == expected, case_id
    assert set(items) == allowed == {plain, twice, excluded}
    assert items[excluded]["access"] == policy.OWN_PARTS and items[excluded]["name"] is None
    assert listed(client, pnc)["counts"]["all"] == 3
