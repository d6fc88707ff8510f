"""A women's office worker's day, in a real browser, from her task list (issue 11): she
opens the overdue follow-up, records what came of it, corrects the survivor's phone and
reassesses the risk; then her list is clear, and the record shows what she did and why.

Screenshots of the task list and of the corrected case land in test-output/screenshots/.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from app.auth.models import User
from app.auth.service import issue_token
from app.cases.care_models import FollowUp
from app.cases.models import Case, Survivor
from app.cases.name_tokens import phone_index
from app.core.time import local_today
from app.extensions import db
from tests.browser.pages import CaseRecordPage, LoginPage, RiskReassessmentPage, TaskListPage
from tests.factories import intake

pytestmark = pytest.mark.browser

OLD_PHONE, NEW_PHONE = "7777-1234", "7123-4567"
OVERDUE_BY = 3  # days
# Her answers today, every one of the 24 chosen: ten «sí» (none of those that make the
# level high by themselves: 13 weapon, 14 threat to kill, 15 strangulation), two «no sabe».
YES = {1, 2, 3, 4, 6, 8, 10, 11, 12, 20}
UNKNOWN = {21, 24}
TODAYS_ANSWERS = {
    f"q{n}": "yes" if n in YES else "unknown" if n in UNKNOWN else "no" for n in range(1, 25)
}
LOWERED_BECAUSE = "El agresor está detenido y ella vive ahora con su madre."


def on_screen(day: Any) -> str:
    return day.strftime("%d/%m/%Y")


def api_of(live_server: Any, username: str) -> tuple[Any, dict[str, str]]:
    """A client and token for her, as her office's own system would call the API."""
    app = live_server.app
    with app.app_context():
        user = db.session.execute(select(User).filter_by(username=username)).scalar_one()
        token, _ = issue_token(db.session, user, app.config["RUTA_TOKEN_LIFETIME"])
        db.session.commit()
    return app.test_client(), {"Authorization": f"Bearer {token}"}


def arrange_her_case(live_server: Any, username: str) -> tuple[str, str]:
    """Opened at her office, assessed high (strangulation), with a phone call she planned
    that is now overdue; returns the case's id and number."""
    client, headers = api_of(live_server, username)
    opened = client.post("/api/v1/cases", json=intake(), headers=headers)
    assert opened.status_code == 201, opened.get_json()
    case_id, number = opened.get_json()["id"], opened.get_json()["number"]
    planned = client.post(
        f"/api/v1/cases/{case_id}/follow-ups",
        json={"due_on": local_today().isoformat(), "channel": "phone"},
        headers=headers,
    )
    assert planned.status_code == 201, planned.get_json()
    answers: dict[str, bool | None] = {str(n): n in (2, 3, 15) for n in range(1, 25)}
    assessed = client.post(
        f"/api/v1/cases/{case_id}/risk-assessments", json={"answers": answers}, headers=headers
    )
    assert assessed.status_code == 201, assessed.get_json()
    assert assessed.get_json()["level"] == "high"
    with live_server.app.app_context():  # the API takes no date in the past: age it here
        db.session.execute(
            update(FollowUp)
            .where(FollowUp.id == uuid.UUID(planned.get_json()["id"]))
            .values(due_on=local_today() - timedelta(days=OVERDUE_BY))
        )
        db.session.commit()
    return case_id, number


def found_by_phone(live_server: Any, username: str, phone: str) -> list[str]:
    client, headers = api_of(live_server, username)
    response = client.post("/api/v1/cases/search", json={"phone": phone}, headers=headers)
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def phone_blind_index(live_server: Any, case_id: str) -> str | None:
    with live_server.app.app_context():
        stmt = (
            select(Survivor.phone_bidx)
            .join(Case, Case.survivor_id == Survivor.id)
            .where(Case.id == uuid.UUID(case_id))
        )
        return db.session.execute(stmt).scalar_one()


def test_womens_office_worker_clears_her_task_list(browsing, make_account, live_server):
    ana = make_account("womens_office", "UMM-SON", "Licda. Ana Martínez")
    case_id, number = arrange_her_case(live_server, ana.username)
    due = on_screen(local_today() - timedelta(days=OVERDUE_BY))
    today = on_screen(local_today())

    # She signs in; her task list names the overdue call, hers, on the phone.
    page = browsing.new_page()
    LoginPage(page).log_in(ana)
    tasks = TaskListPage(page)
    assert tasks.greeting() == "Hola, Licda. Ana Martínez"
    assert tasks.cells("Seguimiento vencido", number) == [
        ["Seguimiento vencido", number, due, "Teléfono", "mío"]
    ]
    assert len(tasks.cells("Riesgo alto sin plan de seguridad", number)) == 1
    assert "María" not in tasks.card_text()  # the list names cases by number only
    tasks.screenshot("task-list")

    # The row opens the case at its follow-ups; she records how the call went.
    case = tasks.open_task("Seguimiento vencido", number)
    assert case.url_path == f"/cases/{case_id}#seguimiento"
    assert case.follow_up_forms() == 1
    case.record_follow_up("Realizado", "Hablamos: cambió de número de teléfono.")
    assert "Resultado registrado." in case.flash()
    [follow_up] = case.follow_ups()
    assert f"{due} · Teléfono · UMM-SON" in follow_up
    assert f"Realizado · {today} · Hablamos: cambió de número de teléfono." in follow_up
    assert case.follow_up_forms() == 0

    # She corrects the phone number, saying why; the old one stays in the history.
    assert case.fact("Teléfono") == OLD_PHONE
    assert case.corrections() == []
    case.correct_survivor({"Teléfono": NEW_PHONE}, "Cambió de número: él conocía el anterior.")
    assert "Datos corregidos. La corrección quedó en el historial." in case.flash()
    assert case.fact("Teléfono") == NEW_PHONE
    [correction] = case.corrections()
    assert "Licda. Ana Martínez · UMM-SON · Identidad y contacto: Teléfono\n" in correction
    assert "Motivo: Cambió de número: él conocía el anterior." in correction
    assert correction.endswith(f"Teléfono: {OLD_PHONE} → {NEW_PHONE}")  # that field only
    case.screenshot("case-corrected")

    # She reassesses: 24 answers chosen, ten «sí». Lowering from high asks why.
    risk = RiskReassessmentPage(case.start_risk_assessment().page)
    risk.answer(**TODAYS_ANSWERS).save_refused()
    assert risk.lowering_error() == (
        "El riesgo de este caso es alto: explique por qué baja antes de guardar la valoración."
    )
    risk.lowering_reason(LOWERED_BECAUSE).save()
    case = CaseRecordPage(page)
    assert "Riesgo medio (10 respuestas sí). Motivo: puntaje 10–13." in case.flash()
    assert "Riesgo: medio" in case.tags()
    assert case.risk_lines() == [
        "Nivel del caso: medio · por puntaje 10–13",
        f"{today} · UMM-SON · alto (3/24) · estrangulamiento",
        f"{today} · UMM-SON · medio (10/24) · puntaje 10–13 · bajó de alto porque: "
        + LOWERED_BECAUSE,
        "Nueva valoración de riesgo",
    ]

    # Back home, her list is clear: the call is done and the case is no longer high.
    case.nav("Inicio")
    tasks = TaskListPage(page)
    assert number not in tasks.card_text()
    assert "No hay tareas pendientes." in tasks.card_text()

    # The phone's blind index followed: the new number finds her, the old one does not.
    assert phone_blind_index(live_server, case_id) == phone_index(
        live_server.app.extensions["ruta.keyring"], NEW_PHONE
    )
    assert found_by_phone(live_server, ana.username, NEW_PHONE) == [case_id]
    assert found_by_phone(live_server, ana.username, OLD_PHONE) == []
