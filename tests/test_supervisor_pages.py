"""The supervisors' pages at scale (issue 12, item 5): reads out of hours grouped per user
and El Salvador day, people by name, cases by number, local times, pages of 50 that keep
the filters, and a review queue that says who else may decide what the viewer may not."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from app.audit.service import Actor, record_event
from app.auth.models import User
from app.cases.models import Case
from app.core.time import LOCAL_TZ, utcnow
from app.crypto.service import get_keyring
from app.extensions import db
from app.retention.models import ErasureRequest
from app.supervision import queries
from tests.auth_helpers import start_web_session
from tests.conftest import PASSWORD
from tests.factories import OTHER_DUI, intake
from tests.report_helpers import valid_dui

RED = "Red Interinstitucional de Atención de Sonsonate"
NAMES = {
    "ana.pnc": "Ana Martínez",
    "beto.salud": "Alberto Ruiz",
    "sup.red": "Sonia Hernández",
    "sup.colega": "Carmen Rivas",
}


def _name(app, username: str, display_name: str) -> None:
    with app.app_context():
        db.session.execute(
            update(User).where(User.username == username).values(display_name=display_name)
        )
        db.session.commit()


@pytest.fixture
def scene(app, client, make_person):
    people = SimpleNamespace(
        ana=make_person("pnc_agent", "PNC-SON", "ana.pnc"),
        beto=make_person("health_staff", "US-SON", "beto.salud"),
        sup=make_person("supervisor", "RED-SON", "sup.red"),
    )
    for username, name in NAMES.items():
        _name(app, username, name)
    first = client.post("/api/v1/cases", json=intake(), headers=people.ana.headers)
    second = client.post(
        "/api/v1/cases",
        headers=people.ana.headers,
        json=intake(survivor_overrides={"dui": OTHER_DUI, "given_names": "Rosa Elena"}),
    )
    assert first.status_code == second.status_code == 201
    people.case_a, people.case_b = first.get_json()["id"], second.get_json()["id"]
    people.number_a, people.number_b = first.get_json()["number"], second.get_json()["number"]
    people.web = app.test_client()
    start_web_session(app, people.web, "sup.red")
    return people


def _reads(app, person, case_id: str, moments: list[datetime], action: str = "case_view"):
    with app.app_context():
        actor = Actor(person.id, person.username, person.institution, person.role, "10.1.1.1")
        for at in moments:
            record_event(
                db.session,
                get_keyring().audit_key,
                actor,
                action,
                object_type="case",
                case_id=uuid.UUID(case_id),
                detail="full",
                at=at,
            )
        db.session.commit()


def _local(days_ago: int, hour: int, minute: int = 0) -> datetime:
    """A moment on El Salvador's clock, `days_ago` days back (inside the page's 30 days)."""
    day = datetime.now(LOCAL_TZ).date() - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ).astimezone(UTC)


def _workday(nth: int) -> int:
    """How many days back the `nth` working day (Monday to Friday) before yesterday is:
    a read at 10:00 that day is in office hours."""
    today = datetime.now(LOCAL_TZ).date()
    back, found = 1, 0
    while True:
        back += 1
        if (today - timedelta(days=back)).weekday() < 5:
            found += 1
            if found == nth:
                return back


def _page(client, **query) -> str:
    response = client.get("/audit", query_string=query)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _section(page: str, section_id: str) -> str:
    found = re.search(rf'<section class="card" id="{section_id}">(.*?)</section>', page, re.S)
    assert found, section_id
    return found.group(1)


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _rows(fragment: str) -> list[str]:
    body = re.search(r"<tbody>(.*?)</tbody>", fragment, re.S)
    assert body
    return [_text(row) for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)]


# ---- reads out of office hours ---------------------------------------------------------------


def test_many_night_reads_are_one_row_per_user_and_local_day(app, scene):
    back = _workday(1)
    night = [_local(back, 22, minute) for minute in range(0, 40)]  # 40 reads, 22:00 to 22:39
    _reads(app, scene.ana, scene.case_a, night[:25])
    _reads(app, scene.ana, scene.case_b, night[25:])
    _reads(app, scene.ana, scene.case_a, [_local(back, 10)])  # office hours: not counted
    _reads(app, scene.beto, scene.case_a, [_local(back + 1, 5, 15)])
    rows = _rows(_section(_page(scene.web), "fuera-de-horario"))
    ana = [row for row in rows if "ana.pnc" in row]
    assert len(ana) == 1, rows
    day = _local(back, 22).astimezone(LOCAL_TZ).strftime("%d/%m/%Y")
    assert ana[0].startswith(day)
    assert "Ana Martínez (ana.pnc) · PNC — UNIMUJER-ODAC Sonsonate" in ana[0]
    assert " 40 22:00 – 22:39 2 Ver las 40 lecturas" in ana[0]
    beto = [row for row in rows if "beto.salud" in row]
    assert len(beto) == 1 and " 1 05:15 – 05:15 1 Ver la lectura" in beto[0]


def test_a_group_opens_to_its_own_reads(app, scene):
    back = _workday(1)
    _reads(app, scene.ana, scene.case_a, [_local(back, 22, m) for m in range(3)])
    _reads(app, scene.ana, scene.case_a, [_local(back, 9), _local(back + 1, 23)])
    page = _page(scene.web)
    link = re.search(r'href="([^"]+)">Ver las 3 lecturas', _section(page, "fuera-de-horario"))
    assert link
    opened = scene.web.get(html.unescape(link.group(1)))
    rows = _rows(_section(opened.get_data(as_text=True), "eventos"))
    # The three night reads of that day only: not the one at 09:00, not the other night's.
    assert len(rows) == 3, rows
    assert all(" 22:0" in row and "case_view" in row for row in rows)


def test_an_event_at_0330_utc_is_2130_of_the_day_before(app, scene):
    utc_day = datetime.now(UTC).date() - timedelta(days=2)
    at = datetime(utc_day.year, utc_day.month, utc_day.day, 3, 30, tzinfo=UTC)
    _reads(app, scene.beto, scene.case_b, [at])
    before = (utc_day - timedelta(days=1)).strftime("%d/%m/%Y")
    page = _page(scene.web, username="beto.salud", action="case_view")
    assert [row.split(" Alberto")[0] for row in _rows(_section(page, "eventos"))] == [
        f"{before} 21:30"
    ]
    night = [r for r in _rows(_section(page, "fuera-de-horario")) if "beto.salud" in r]
    assert night and night[0].startswith(f"{before} ")
    per_day = [r for r in _rows(_section(page, "por-dia")) if "beto.salud" in r]
    assert [r.split("PNC")[0] for r in per_day if before in r], per_day
    assert "UTC)" not in page and "(UTC)" not in page
    assert "Todas las fechas y horas de esta página son de El Salvador" in page


def test_the_local_day_is_grouped_by_the_database_on_either_engine(app, scene):
    """03:30 UTC on the 17th and 20:00 local on the 16th are one local day."""
    _reads(app, scene.beto, scene.case_a, [_local(5, 21, 30), _local(5, 20)])
    with app.app_context():
        sup = db.session.get(User, scene.sup.id)
        rows = queries.accesses_per_user_per_day(db.session, sup, utcnow() - timedelta(days=30))
    day = _local(5, 20).astimezone(LOCAL_TZ).date().isoformat()
    assert {(r["username"], r["day"]): r["reads"] for r in rows}[("beto.salud", day)] == 2


# ---- names, not ids -------------------------------------------------------------------------


def test_break_glass_shows_the_supervisors_name_and_the_case_number(app, client, scene):
    grant = client.post(
        f"/api/v1/cases/{scene.case_b}/break-glass",
        headers=scene.sup.headers,
        json={"reason": "Orden judicial urgente, oficio 12", "password": PASSWORD},
    )
    assert grant.status_code == 201
    queue = _text(_section(_page(scene.web), "revision"))
    assert "usuario #" not in queue
    assert f"Sonia Hernández (sup.red) · {RED} · {scene.number_b}" in queue


def test_event_rows_show_name_username_institution_and_case_number(app, scene):
    _reads(app, scene.beto, scene.case_a, [_local(1, 10)])
    rows = _rows(_section(_page(scene.web, username="beto.salud", action="case_view"), "eventos"))
    assert len(rows) == 1
    assert "Alberto Ruiz beto.salud Unidad de Salud Sonsonate case_view" in rows[0]
    assert scene.number_a in rows[0] and scene.case_a not in rows[0]


# ---- the case filter takes the number ---------------------------------------------------------


def test_case_filter_takes_the_number_as_typed(app, scene):
    page = _page(scene.web, case=f"  {scene.number_b.lower()} ")
    rows = _rows(_section(page, "eventos"))
    assert rows and all(scene.number_b in row for row in rows)
    assert not any(scene.number_a in row for row in rows)
    assert 'aria-invalid="true"' not in page


def test_an_unknown_case_number_says_so_next_to_the_field(scene):
    page = _page(scene.web, case="SON-2026-999999")
    events = _section(page, "eventos")
    assert "No hay ningún expediente con el número SON-2026-999999" in _text(events)
    assert 'id="f-case-error"' in events and 'aria-invalid="true"' in events
    assert "<tbody>" not in events, "no list that looks like the case had no events"
    assert 'value="SON-2026-999999"' in events, "what she typed stays in the field"


@pytest.mark.parametrize("typed", ["SON-2026", "1b0e4c2a-7f0e-4b8e-9d7a-3c2f1e0d9b8a", "x" * 60])
def test_a_malformed_case_number_is_a_form_error_not_a_500(scene, typed):
    events = _section(_page(scene.web, case=typed), "eventos")
    assert "El número de expediente no es válido" in _text(events)
    assert "por ejemplo SON-2026-000123" in _text(events)
    assert "<tbody>" not in events


def test_api_filters_and_labels_events_by_case_number(client, scene):
    response = client.get(
        "/api/v1/audit", headers=scene.sup.headers, query_string={"case_number": scene.number_a}
    )
    assert response.status_code == 200, response.get_json()
    items = response.get_json()["items"]
    assert items and {(i["case_id"], i["case_number"]) for i in items} == {
        (scene.case_a, scene.number_a)
    }
    for bad, code in (("SON-2026", 422), ("SON-2026-999999", 422)):
        refused = client.get(
            "/api/v1/audit", headers=scene.sup.headers, query_string={"case_number": bad}
        )
        assert refused.status_code == code
        assert "case_number" in refused.get_json()["fields"]


# ---- pages of 50 that keep the filters -----------------------------------------------------


def test_the_event_list_pages_by_50_and_keeps_its_filters(app, scene):
    _reads(
        app, scene.beto, scene.case_a, [_local(2, 10) + timedelta(seconds=i) for i in range(120)]
    )
    _reads(app, scene.ana, scene.case_a, [_local(2, 11)])
    first = _page(scene.web, username="beto.salud", action="case_view")
    events = _section(first, "eventos")
    assert len(_rows(events)) == 50
    assert "1 a 50 de 120 · página 1 de 3" in _text(events)
    following = re.search(r'<a rel="next" href="([^"]+)"', events)
    assert following
    href = html.unescape(following.group(1))
    assert "username=beto.salud" in href and "action=case_view" in href
    assert "events_page=2" in href and href.endswith("#eventos")
    last = scene.web.get(href.replace("events_page=2", "events_page=3"))
    rows = _rows(_section(last.get_data(as_text=True), "eventos"))
    assert len(rows) == 20 and all("beto.salud" in row for row in rows)
    assert "101 a 120 de 120 · página 3 de 3" in _text(
        _section(last.get_data(as_text=True), "eventos")
    )


def test_a_page_past_the_end_shows_the_last_one(app, scene):
    _reads(app, scene.beto, scene.case_a, [_local(2, 10)] * 60)
    events = _section(_page(scene.web, username="beto.salud", events_page="99"), "eventos")
    assert len(_rows(events)) == 10 and "página 2 de 2" in _text(events)


def test_night_groups_page_by_50_too(app, scene):
    _reads(app, scene.beto, scene.case_a, [_local(d, 23) for d in range(1, 29)])
    _reads(app, scene.ana, scene.case_a, [_local(d, 23) for d in range(1, 29)])
    night = _section(_page(scene.web), "fuera-de-horario")
    assert len(_rows(night)) == 50 and "1 a 50 de 56" in _text(night)
    second = _section(_page(scene.web, night_page="2", username="beto.salud"), "fuera-de-horario")
    assert len(_rows(second)) == 6
    previous = re.search(r'rel="prev" href="([^"]+)"', second)
    assert previous and {"username=beto.salud", "night_page=1"} <= set(
        html.unescape(previous.group(1)).split("#")[0].split("?")[1].split("&")
    )


# ---- who else may review --------------------------------------------------------------------


def _break_glass(client, person, case_id):
    response = client.post(
        f"/api/v1/cases/{case_id}/break-glass",
        headers=person.headers,
        json={"reason": "Orden judicial urgente, oficio 31", "password": PASSWORD},
    )
    assert response.status_code == 201, response.get_json()


def test_her_own_break_glass_names_the_supervisors_who_may_review_it(
    app, client, scene, make_person
):
    make_person("supervisor", "RED-SON", "sup.colega")
    _name(app, "sup.colega", NAMES["sup.colega"])
    _break_glass(client, scene.sup, scene.case_a)
    queue = _section(_page(scene.web), "revision")
    assert "Registrar revisión" not in queue
    assert f"Pueden hacerlo: Carmen Rivas (sup.colega) · {RED}" in _text(queue)
    assert "Sonia Hernández (sup.red) · Red" not in _text(queue).split("Pueden hacerlo:")[1]
    colleague = app.test_client()
    start_web_session(app, colleague, "sup.colega")
    theirs = _section(_page(colleague), "revision")
    assert "Registrar revisión" in theirs and "Pueden hacerlo" not in theirs


def test_with_no_other_supervisor_the_queue_says_what_to_do(app, client, scene):
    _break_glass(client, scene.sup, scene.case_a)
    queue = _text(_section(_page(scene.web), "revision"))
    assert "Nadie más puede decidir sobre esto por ahora" in queue
    assert "Pida a la administración del sistema que dé de alta a otra supervisora" in queue


def test_a_disabled_or_waiting_supervisor_is_not_offered_as_reviewer(
    app, client, scene, make_person
):
    make_person("supervisor", "RED-SON", "sup.colega")
    with app.app_context():
        db.session.execute(update(User).where(User.username == "sup.colega").values(active=False))
        db.session.commit()
    _break_glass(client, scene.sup, scene.case_a)
    queue = _text(_section(_page(scene.web), "revision"))
    assert "sup.colega" not in queue and "Nadie más puede decidir" in queue


def test_an_erasure_she_asked_for_names_who_may_decide_it(app, client, scene, make_person):
    make_person("supervisor", "RED-SON", "sup.colega")
    _name(app, "sup.colega", NAMES["sup.colega"])
    with app.app_context():
        sup = db.session.get(User, scene.sup.id)
        db.session.add(
            ErasureRequest(
                id=uuid.uuid4(),
                case_id=uuid.UUID(scene.case_b),
                legal_basis="other",
                reason_enc=b"",
                requested_by_user_id=sup.id,
                requested_by_institution_id=sup.institution_id,
            )
        )
        db.session.commit()
    page = scene.web.get("/audit/retention").get_data(as_text=True)
    erasures = _text(_section(page, "supresiones"))
    assert scene.number_b in erasures and "Aprobar la supresión" not in erasures
    assert "Pueden hacerlo: Carmen Rivas (sup.colega)" in erasures


def test_purged_records_page_by_50_with_their_count(app, client, scene):
    for n in range(51):
        body = intake(survivor_overrides={"dui": valid_dui(700 + n), "given_names": f"Ana {n}"})
        assert client.post("/api/v1/cases", json=body, headers=scene.ana.headers).status_code == 201
    with app.app_context():
        db.session.execute(update(Case).values(purged_at=utcnow()))
        db.session.commit()
    first = _section(scene.web.get("/audit/retention").get_data(as_text=True), "depurados")
    assert first.count("<li><span") == 50 and "1 a 50 de 53 · página 1 de 2" in _text(first)
    following = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert following and html.unescape(following.group(1)).startswith("/audit/retention?")
    second = scene.web.get(html.unescape(following.group(1))).get_data(as_text=True)
    assert _section(second, "depurados").count("<li><span") == 3


def test_the_dashboard_counts_the_accesses_to_review_and_leads_to_them(client, scene):
    _break_glass(client, scene.sup, scene.case_a)
    page = scene.web.get("/").get_data(as_text=True)
    assert re.search(r'<a href="/audit#revision">1 acceso por revisar</a>', page)


def test_in_english_the_new_parts_of_the_page_are_english(app, client, scene):
    _reads(app, scene.ana, scene.case_a, [_local(_workday(1), 22, m) for m in range(3)])
    _break_glass(client, scene.sup, scene.case_a)
    with scene.web.session_transaction() as session:
        session["lang"] = "en"
    page = _page(scene.web, case="SON-2026")
    text = _text(page)
    for english in (
        "All dates and times on this page are El Salvador time",
        "See the 3 reads",
        "Nobody else can decide on this for now",
        "The case number is not valid",
        "Case number",
    ):
        assert english in text, english
    for spanish in ("Todas las fechas", "Ver las 3 lecturas", "Nadie más", "no es válido"):
        assert spanish not in text, spanish
