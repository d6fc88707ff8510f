"""A risk tool that cannot lie (issue 11, item 7): no preset answers, all 24 required,
the score and the reason for the level shown, never down from high without a reason, a
feminicidal, firearm or strangulation incident makes the case high at once, and a
reassessment falls due after 30 days."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from app.cases.care_models import RiskAssessment
from app.core.time import utcnow
from app.extensions import db
from app.notifications.models import Notification
from tests.auth_helpers import csrf_token, start_web_session
from tests.factories import incident, intake

API = "/api/v1"
KEYS = [str(n) for n in range(1, 25)]


def answers(yes: int = 0, **named: bool | None) -> dict[str, bool | None]:
    """`yes` plain questions answered yes (never 13-15, which make it high alone), the
    rest no; `q15=True` and the like on top."""
    plain = [key for key in KEYS if key not in ("13", "14", "15")]
    given: dict[str, bool | None] = {key: key in plain[:yes] for key in KEYS}
    given.update({key.removeprefix("q"): value for key, value in named.items()})
    return given


def open_case(client, person, **incident_overrides: Any) -> str:
    body = intake(incident_overrides=incident_overrides)
    response = client.post(f"{API}/cases", json=body, headers=person.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def assess(client, person, case_id: str, given: dict[str, Any], **extra: Any):
    return client.post(
        f"{API}/cases/{case_id}/risk-assessments",
        json={"answers": given, **extra},
        headers=person.headers,
    )


def record(client, person, case_id: str) -> dict[str, Any]:
    return client.get(f"{API}/cases/{case_id}", headers=person.headers).get_json()


def assessments(app, case_id: str) -> int:
    with app.app_context():
        stmt = select(func.count()).where(RiskAssessment.case_id == uuid.UUID(case_id))
        return db.session.execute(stmt).scalar_one()


# ---- all 24, each chosen ----------------------------------------------------------------


def test_twenty_three_answers_are_422_naming_the_missing_one(app, client, pnc):
    case_id = open_case(client, pnc)
    given = answers(3)
    del given["17"]
    refused = assess(client, pnc, case_id, given)
    assert refused.status_code == 422
    assert list(refused.get_json()["fields"]["answers"]) == ["17"]
    assert assessments(app, case_id) == 0


def test_an_empty_or_partial_set_names_every_missing_key(client, pnc):
    case_id = open_case(client, pnc)
    assert set(assess(client, pnc, case_id, {}).get_json()["fields"]["answers"]) == set(KEYS)
    partial = assess(client, pnc, case_id, {"1": True, "2": False})
    assert set(partial.get_json()["fields"]["answers"]) == set(KEYS) - {"1", "2"}


def test_no_sabe_is_an_answer_given_explicitly(client, pnc):
    case_id = open_case(client, pnc)
    saved = assess(client, pnc, case_id, dict.fromkeys(KEYS))
    assert saved.status_code == 201
    assert saved.get_json()["score"] == 0 and saved.get_json()["level"] == "standard"
    assert saved.get_json()["reasons"] == ["score_standard"]


@pytest.mark.parametrize(
    ("given", "level", "reasons"),
    [
        (answers(14), "high", ["score_high"]),
        (answers(11), "medium", ["score_medium"]),
        (answers(2, q15=True), "high", ["strangulation"]),
        (answers(2, q14=True, q15=True), "high", ["strangulation", "threat_to_kill"]),
    ],
)
def test_the_score_and_the_reason_for_the_level_are_answered(client, pnc, given, level, reasons):
    case_id = open_case(client, pnc)
    saved = assess(client, pnc, case_id, given)
    assert saved.status_code == 201
    assert (saved.get_json()["level"], saved.get_json()["reasons"]) == (level, reasons)
    shown = record(client, pnc, case_id)
    assert shown["risk_assessments"][-1]["reasons"] == reasons
    assert shown["risk"]["level"] == level and shown["risk"]["reasons"] == reasons


# ---- never down from high without a reason ----------------------------------------------


def test_lowering_from_high_without_a_reason_is_422_and_with_one_is_kept(app, client, pnc):
    case_id = open_case(client, pnc)
    assert assess(client, pnc, case_id, answers(15)).get_json()["level"] == "high"
    refused = assess(client, pnc, case_id, answers(2))
    assert refused.status_code == 422 and "reason" in refused.get_json()["fields"]
    assert record(client, pnc, case_id)["risk_level"] == "high"
    assert assessments(app, case_id) == 1
    why = "Él fue detenido y tiene orden de alejamiento vigente"
    lowered = assess(client, pnc, case_id, answers(2), reason=why)
    assert lowered.status_code == 201 and lowered.get_json()["level"] == "standard"
    shown = record(client, pnc, case_id)
    assert shown["risk_level"] == "standard"
    assert shown["risk_assessments"][-1]["lowering_reason"] == why
    with app.app_context():
        sealed = (
            db.session.execute(
                select(RiskAssessment.lowering_reason_enc).order_by(
                    RiskAssessment.created_at.desc()
                )
            )
            .scalars()
            .first()
        )
        assert sealed and why.encode() not in sealed


def test_a_high_case_stays_high_without_a_reason_even_at_medium(client, pnc):
    case_id = open_case(client, pnc)
    assess(client, pnc, case_id, answers(2, q14=True))
    assert assess(client, pnc, case_id, answers(11)).status_code == 422
    assert assess(client, pnc, case_id, answers(15)).status_code == 201  # high again: no reason


def test_a_party_that_sees_only_its_own_parts_cannot_lower_a_high_case(client, pnc, health):
    case_id = open_case(client, pnc)
    assess(client, pnc, case_id, answers(15))
    joined = client.post(
        f"{API}/cases", json=intake(consent={"police": True}), headers=health.headers
    )
    assert joined.get_json()["access"] == "own_parts"
    saved = assess(client, health, case_id, answers(1))
    # Recorded as its own part, without telling it the level it could not see.
    assert saved.status_code == 201 and saved.get_json()["level"] == "standard"
    assert record(client, pnc, case_id)["risk_level"] == "high"


# ---- high at once, from an incident -----------------------------------------------------


def high_risk_alerts(app, case_id: str) -> list[tuple[int | None, int | None]]:
    with app.app_context():
        rows = db.session.execute(
            select(Notification.institution_id, Notification.user_id).where(
                Notification.case_id == uuid.UUID(case_id), Notification.kind == "high_risk"
            )
        ).all()
    return [tuple(row) for row in rows]


def test_a_firearm_incident_makes_the_case_high_at_once_and_alerts(
    app, client, pnc, womens, supervisor
):
    case_id = open_case(client, pnc)
    client.post(f"{API}/cases", json=intake(), headers=womens.headers)
    assert record(client, pnc, case_id)["risk_level"] is None
    added = client.post(
        f"{API}/cases/{case_id}/incidents",
        json=incident(occurred_on="2026-11-01", weapon="firearm"),
        headers=pnc.headers,
    )
    assert added.status_code == 201
    shown = record(client, pnc, case_id)
    assert shown["risk_level"] == "high" and shown["risk"]["reasons"] == ["firearm"]
    assert shown["risk"]["reassessment_due"] is True  # high, and never assessed
    alerts = high_risk_alerts(app, case_id)
    assert (None, supervisor.id) in alerts
    assert any(inst is not None for inst, _ in alerts)  # the women's office taking part


def test_a_feminicidal_incident_at_intake_is_high_at_once(client, pnc):
    case_id = open_case(client, pnc, violence_types=["physical", "feminicidal"])
    assert record(client, pnc, case_id)["risk_level"] == "high"


def test_strangulation_told_at_an_incident_is_high_at_once(client, pnc):
    case_id = open_case(client, pnc, strangulation=True)
    assert record(client, pnc, case_id)["risk_level"] == "high"


def test_strangulation_is_kept_with_the_incident_and_keeps_every_assessment_high(client, pnc):
    case_id = open_case(client, pnc, strangulation=True)
    item = record(client, pnc, case_id)["incidents"][0]
    assert item["strangulation"] is True
    assert assess(client, pnc, case_id, answers(1)).get_json()["reasons"] == ["strangulation"]
    unmarked = client.patch(
        f"{API}/cases/{case_id}/incidents/{item['id']}",
        json={"strangulation": False, "reason": "Se marcó por error", "version": item["version"]},
        headers=pnc.headers,
    )
    assert unmarked.status_code == 200, unmarked.get_json()
    assert record(client, pnc, case_id)["incidents"][0]["strangulation"] is False
    lowered = assess(client, pnc, case_id, answers(1), reason="No hubo estrangulamiento")
    assert lowered.get_json()["level"] == "standard"


def test_a_correction_to_a_firearm_makes_the_case_high_at_once(app, client, pnc, supervisor):
    case_id = open_case(client, pnc)
    item = record(client, pnc, case_id)["incidents"][0]
    corrected = client.patch(
        f"{API}/cases/{case_id}/incidents/{item['id']}",
        json={"weapon": "firearm", "reason": "No se anotó el arma", "version": item["version"]},
        headers=pnc.headers,
    )
    assert corrected.status_code == 200
    assert record(client, pnc, case_id)["risk_level"] == "high"
    assert (None, supervisor.id) in high_risk_alerts(app, case_id)


def test_a_firearm_incident_keeps_every_assessment_high_until_it_is_voided(client, pnc):
    case_id = open_case(client, pnc)
    armed = client.post(
        f"{API}/cases/{case_id}/incidents",
        json=incident(occurred_on="2026-11-01", weapon="firearm"),
        headers=pnc.headers,
    ).get_json()["id"]
    assert assess(client, pnc, case_id, answers(1)).get_json()["reasons"] == ["firearm"]
    voided = client.post(
        f"{API}/cases/{case_id}/incidents/{armed}/void",
        json={"reason": "Era de otra persona"},
        headers=pnc.headers,
    )
    assert voided.status_code == 200
    lowered = assess(client, pnc, case_id, answers(1), reason="El arma era de otro caso")
    assert lowered.get_json()["level"] == "standard"


# ---- a reassessment falls due -----------------------------------------------------------


def test_a_reassessment_is_due_when_the_last_is_older_than_thirty_days(app, client, pnc):
    case_id = open_case(client, pnc)
    assess(client, pnc, case_id, answers(15))
    assert record(client, pnc, case_id)["risk"]["reassessment_due"] is False
    with app.app_context():
        db.session.execute(
            update(RiskAssessment)
            .where(RiskAssessment.case_id == uuid.UUID(case_id))
            .values(created_at=utcnow() - timedelta(days=31))
        )
        db.session.commit()
    shown = record(client, pnc, case_id)["risk"]
    assert shown["reassessment_due"] is True and shown["last_assessed_at"]
    closed = client.post(
        f"{API}/cases/{case_id}/status",
        json={"status": "closed", "reason": "services_completed"},
        headers=pnc.headers,
    )
    assert closed.status_code == 200
    assert record(client, pnc, case_id)["risk"]["reassessment_due"] is False


# ---- the page ---------------------------------------------------------------------------


def risk_page(app, client, person, case_id: str) -> tuple[str, str]:
    start_web_session(app, client, person.username)
    path = f"/cases/{case_id}/risk"
    html = client.get(path).get_data(as_text=True)
    return path, html


def test_the_page_presets_no_answer(app, client, pnc):
    case_id = open_case(client, pnc)
    _, html = risk_page(app, client, pnc, case_id)
    assert len(re.findall(r'type="radio"', html)) == 72
    assert "checked" not in html


def test_an_untouched_risk_form_saves_nothing_and_shows_errors(app, client, pnc):
    case_id = open_case(client, pnc)
    path, html = risk_page(app, client, pnc, case_id)
    answer = client.post(path, data={"csrf_token": csrf_token(html)})
    assert answer.status_code == 303 and answer.headers["Location"].endswith(path)
    shown = client.get(path).get_data(as_text=True)
    assert "Preguntas sin responder (24)" in shown
    assert shown.count("Responda Sí, No o No sabe.") == 24
    assert assessments(app, case_id) == 0
    assert record(client, pnc, case_id)["risk_level"] is None


def test_a_partial_risk_form_keeps_what_was_chosen_and_marks_the_rest(app, client, pnc):
    case_id = open_case(client, pnc)
    path, html = risk_page(app, client, pnc, case_id)
    chosen = {f"q{key}": "no" for key in KEYS if key not in ("5", "20")}
    chosen["q1"] = "yes"
    chosen["q2"] = "unknown"
    answer = client.post(path, data={**chosen, "csrf_token": csrf_token(html)})
    assert answer.status_code == 303
    shown = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert 'id="q5-error"' in shown and 'id="q20-error"' in shown
    assert shown.count("Responda Sí, No o No sabe.") == 2
    assert re.search(r'name="q1" value="yes"[^>]*checked', shown)
    assert re.search(r'name="q2" value="unknown"[^>]*checked', shown)
    assert not re.search(r'name="q5" value="[a-z]+"[^>]*checked', shown)
    assert assessments(app, case_id) == 0


def test_a_complete_risk_form_saves_and_says_why(app, client, pnc):
    case_id = open_case(client, pnc)
    path, html = risk_page(app, client, pnc, case_id)
    chosen = {f"q{key}": "unknown" for key in KEYS}
    chosen.update(q1="yes", q15="yes")
    saved = client.post(path, data={**chosen, "csrf_token": csrf_token(html)})
    assert saved.status_code == 303
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Riesgo alto (2 respuestas sí)." in page and "estrangulamiento" in page
    assert record(client, pnc, case_id)["risk_assessments"][0]["answers"]["2"] is None


def test_lowering_from_high_in_the_page_asks_why(app, client, pnc):
    case_id = open_case(client, pnc)
    assess(client, pnc, case_id, answers(15))
    path, html = risk_page(app, client, pnc, case_id)
    chosen = {f"q{key}": "no" for key in KEYS}
    refused = client.post(path, data={**chosen, "csrf_token": csrf_token(html)})
    assert refused.status_code == 303
    shown = client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "explique por qué baja" in shown
    assert re.search(r'name="q7" value="no"[^>]*checked', shown)
    saved = client.post(
        path,
        data={**chosen, "reason": "Se mudó lejos del agresor", "csrf_token": csrf_token(html)},
    )
    assert saved.status_code == 303
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "bajó de alto porque" in page and "Se mudó lejos del agresor" in page
