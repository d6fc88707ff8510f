"""Network indicators: referrals completed and how fast, overdue referrals, follow-ups
done on time, and high-risk cases under an active protection measure."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update

from app.core.time import local_today
from app.extensions import db
from app.referrals.models import Referral
from tests.report_helpers import Seeded, open_cases

ALL_YES = {"answers": {str(n): True for n in range(1, 25)}}


def _institution_id(client, person, code: str) -> int:
    items = client.get("/api/v1/institutions", headers=person.headers).get_json()["items"]
    return next(item["id"] for item in items if item["code"] == code)


def _refer(client, pnc, case_id: str, to: int) -> str:
    response = client.post(
        f"/api/v1/cases/{case_id}/referrals",
        headers=pnc.headers,
        json={"to_institution": to, "service": "medical", "urgency": "routine", "consent": True},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _move(client, person, referral_id: str, *actions: str) -> None:
    for action in actions:
        response = client.post(
            f"/api/v1/referrals/{referral_id}/transition",
            headers=person.headers,
            json={"action": action, "note": "Hecho"},
        )
        assert response.status_code == 200, response.get_json()


def _indicators(client, person) -> dict:
    response = client.get(
        "/api/v1/stats/indicators",
        headers=person.headers,
        query_string={"from": "2026-01-01", "to": "2026-12-31"},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_referral_indicators(app, client, pnc, health):
    seeded = Seeded()
    cases = open_cases(client, pnc, seeded, 7, municipality="Sonsonate", types=["physical"])
    unit = _institution_id(client, pnc, "US-SON")
    referrals = [_refer(client, pnc, case_id, unit) for case_id in cases]
    for referral_id in referrals[:5]:
        _move(client, health, referral_id, "accept", "start", "complete")
    _move(client, health, referrals[5], "accept")
    with app.app_context():  # the last two were due days ago and nobody answered
        db.session.execute(
            update(Referral)
            .where(Referral.id.in_([uuid.UUID(r) for r in referrals[5:]]))
            .values(due_on=local_today() - timedelta(3))
        )
        db.session.commit()
    found = _indicators(client, pnc)
    summary = found["referrals"]
    assert summary["referrals"] == 7
    assert summary["completed"] == 5
    assert summary["completed_share"] == round(5 / 7, 3)
    assert summary["overdue"] == "<5"
    assert 0 <= summary["median_days_to_accept"] < 0.1  # answered at once in the test
    assert 0 <= summary["median_days_to_complete"] < 0.1
    [service] = found["by_service"]
    assert service["key"] == "medical" and service["referrals"] == 7
    [institution] = found["by_institution"]
    assert institution["key"] == "US-SON"
    assert institution["label"] == "Unidad de Salud Sonsonate"


def test_small_groups_publish_no_share_or_median(client, pnc, health):
    seeded = Seeded()
    cases = open_cases(client, pnc, seeded, 3, municipality="Sonsonate", types=["physical"])
    unit = _institution_id(client, pnc, "US-SON")
    for case_id in cases:
        _move(client, health, _refer(client, pnc, case_id, unit), "accept")
    summary = _indicators(client, pnc)["referrals"]
    assert summary["referrals"] == "<5"
    assert summary["completed_share"] is None
    assert summary["median_days_to_accept"] is None


def test_referrals_of_cases_without_statistics_consent_do_not_count(client, pnc):
    seeded = Seeded()
    cases = open_cases(
        client, pnc, seeded, 6, municipality="Sonsonate", types=["physical"], statistics=False
    )
    unit = _institution_id(client, pnc, "US-SON")
    for case_id in cases:
        _refer(client, pnc, case_id, unit)
    assert _indicators(client, pnc)["referrals"]["referrals"] == 0


def test_follow_ups_done_on_time(client, pnc, womens):
    seeded = Seeded()
    cases = open_cases(client, pnc, seeded, 6, municipality="Sonsonate", types=["physical"])
    base = "/api/v1/cases/{}/follow-ups"
    for n, case_id in enumerate(cases):
        joined = client.post("/api/v1/cases", headers=womens.headers, json=_same_survivor(n))
        assert joined.get_json()["matched_existing"] is True
        planned = client.post(
            base.format(case_id),
            headers=womens.headers,
            json={"due_on": "2026-10-10", "channel": "phone"},
        )
        assert planned.status_code == 201, planned.get_json()
        done_on = "2026-10-09" if n < 5 else "2026-10-20"  # the sixth one was late
        outcome = client.post(
            f"{base.format(case_id)}/{planned.get_json()['id']}/outcome",
            headers=womens.headers,
            json={"outcome": "done", "done_on": done_on},
        )
        assert outcome.status_code == 200, outcome.get_json()
    follow_ups = _indicators(client, pnc)["follow_ups"]
    assert follow_ups == {"due": 6, "on_time": 5, "on_time_share": round(5 / 6, 3)}


def _same_survivor(n: int) -> dict:
    """The intake of seeded survivor n + 1 again, so the women's office joins her case."""
    from tests.factories import intake
    from tests.report_helpers import valid_dui

    number = n + 1
    return intake(
        survivor_overrides={
            "given_names": f"Xiomara{number:03d}",
            "family_names": f"Quintanilla{number:03d}",
            "dui": valid_dui(31_000_000 + number),
            "birth_date": "1990-04-12",
        },
        incident_overrides={"occurred_on": "2026-10-05"},
    )


def test_high_risk_cases_with_an_active_protection_measure(client, pnc):
    seeded = Seeded()
    cases = open_cases(client, pnc, seeded, 6, municipality="Sonsonate", types=["physical"])
    for n, case_id in enumerate(cases):
        risk = client.post(
            f"/api/v1/cases/{case_id}/risk-assessments", headers=pnc.headers, json=ALL_YES
        )
        assert risk.get_json()["level"] == "high"
        if n < 5:
            complaint = client.post(
                f"/api/v1/cases/{case_id}/complaints",
                headers=pnc.headers,
                json={
                    "number": f"DEN-{n}",
                    "measures": [{"measure": "keep_away", "granted": True}],
                },
            )
            assert complaint.status_code == 201, complaint.get_json()
    high_risk = _indicators(client, pnc)["high_risk"]
    assert high_risk == {"cases": 6, "with_active_measure": 5, "share": round(5 / 6, 3)}
