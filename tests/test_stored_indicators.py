"""The network indicators' stored numbers: kept between requests, counted again for the
months a write touched (whatever wrote it: here raw SQL, past every service), and always
equal to the numbers counted from scratch."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.core.time import local_today, utcnow
from app.extensions import db
from app.reports import network_counts, stats
from app.reports.indicators import network_indicators
from app.reports.service import DASHBOARD_BY, dashboard, monthly_report
from app.reports.stats import StatsQuery
from app.reports.stored_indicators import Numbers, count_numbers, period_numbers
from tests.kept_world import world_fixtures
from tests.report_helpers import Seeded, open_cases
from tests.test_indicators import ALL_YES, _institution_id, _move, _refer
from tests.test_measure_breach import add_measure
from tests.test_rape_window import open_rape

TODAY = local_today()
YEAR = (date(TODAY.year, 1, 1), date(TODAY.year, 12, 31))
MONTH = (
    TODAY.replace(day=1),
    (TODAY.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1),
)


@dataclass
class Network:
    cases: list[str]
    rape_case: str
    accepted: str  # a referral accepted, not completed
    completed: str
    follow_up: str
    measure: str
    note: str


def ok(response, status: int = 201) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def build_network(_app: Any, client: Any, _make_person: Any, people: dict[str, Any]) -> Network:
    """Six cases recorded today, each referred to US-SON for medical care (four accepted,
    two of them completed); a rape among them with a legal note; a follow-up due today,
    not done; the first case at high risk, with an active measure."""
    pnc, health = people["pnc"], people["health"]
    rape = open_rape(client, pnc)["id"]
    cases = [
        *open_cases(client, pnc, Seeded(), 5, municipality="Sonsonate", types=["physical"]),
        rape,
    ]
    unit = _institution_id(client, pnc, "US-SON")
    referrals = [_refer(client, pnc, case_id, unit) for case_id in cases]
    for referral_id in referrals[:4]:
        _move(client, health, referral_id, "accept")
    for referral_id in referrals[:2]:
        _move(client, health, referral_id, "start", "complete")
    base = f"/api/v1/cases/{cases[0]}"
    follow_up = ok(
        client.post(
            f"{base}/follow-ups",
            headers=pnc.headers,
            json={"due_on": TODAY.isoformat(), "channel": "phone"},
        )
    )
    ok(client.post(f"{base}/risk-assessments", headers=pnc.headers, json=ALL_YES))
    measure, _version = add_measure(client, pnc, cases[0])
    note = ok(
        client.post(
            f"/api/v1/cases/{rape}/notes",
            headers=pnc.headers,
            json={"kind": "legal", "text": "Asesoría", "given_on": TODAY.isoformat()},
        )
    )
    return Network(cases, rape, referrals[2], referrals[0], follow_up["id"], measure, note["id"])


# Built once per module and worker (tests/kept_world.py).
kept_network, settings, pnc, health, network = world_fixtures(
    "network", build_network, ("pnc", "health")
)


def run_sql(app, statement: str, **params: Any) -> None:
    with app.app_context():
        db.session.execute(text(statement), params)
        db.session.commit()


def numbers(app, period: tuple[date, date]) -> tuple[Numbers, Numbers]:
    """The stored numbers (stored or counted again as needed) and the numbers counted from
    scratch, in two transactions."""
    with app.app_context():
        stored = period_numbers(db.session, *period, TODAY)
        db.session.commit()
        fresh = count_numbers(db.session, *period, TODAY)
        db.session.rollback()
    return stored, fresh


def assert_same(stored: Numbers, fresh: Numbers) -> None:
    assert stored.referrals == fresh.referrals
    assert stored.open == fresh.open
    assert (stored.follow_ups, stored.breaches, stored.rapes, stored.high_risk) == (
        fresh.follow_ups,
        fresh.breaches,
        fresh.rapes,
        fresh.high_risk,
    )
    assert set(stored.medians) == set(fresh.medians)
    for key, (count, median) in stored.medians.items():
        assert count == fresh.medians[key][0]
        assert math.isclose(median, fresh.medians[key][1], rel_tol=1e-9, abs_tol=1e-9)


def naive(moment: datetime) -> datetime:
    """As the database keeps it: UTC without a zone."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def test_the_numbers_are_stored_and_answered_again_without_counting(app, network, monkeypatch):
    first, fresh = numbers(app, YEAR)
    assert_same(first, fresh)
    assert sum(sent for sent, _done in first.referrals.values()) == 6

    def refuse(*_args: Any) -> None:
        raise AssertionError("counted again with nothing changed")

    for name in ("referral_counts", "referral_durations", "follow_up_counts", "high_risk_counts"):
        monkeypatch.setattr(network_counts, name, refuse)
    with app.app_context():
        again = period_numbers(db.session, *YEAR, TODAY)
    assert again == first


def _completed(numbers: Numbers) -> int:
    return sum(done for _sent, done in numbers.referrals.values())


def _sent(numbers: Numbers) -> int:
    return sum(sent for sent, _done in numbers.referrals.values())


def _durations(numbers: Numbers) -> tuple[int, int]:
    return numbers.medians[0, None, None][0], numbers.medians[1, None, None][0]


# name: (SQL, what it changes in the numbers)
WRITES = {
    "a referral cancelled": (
        "UPDATE referrals SET status = 'cancelled' WHERE id = :completed",
        lambda n: (_completed(n), _durations(n)),
    ),
    "an acceptance removed": (
        "DELETE FROM referral_events WHERE referral_id = :accepted AND action = 'accept'",
        _durations,
    ),
    "a referral's due date moved back": (
        "UPDATE referrals SET due_on = :long_ago WHERE id = :accepted",
        lambda n: sorted(n.open.items()),
    ),
    "a follow-up done": (
        "UPDATE follow_ups SET done_on = due_on WHERE id = :follow_up",
        lambda n: n.follow_ups,
    ),
    "a measure breached": (
        "UPDATE protection_measures SET breached_at = :now WHERE id = :measure",
        lambda n: n.breaches,
    ),
    "a measure revoked": (
        "UPDATE protection_measures SET status = 'revoked' WHERE id = :measure",
        lambda n: n.high_risk,
    ),
    "a care note become medical": (
        "UPDATE care_notes SET kind = 'medical' WHERE id = :note",
        lambda n: n.rapes,
    ),
    "the rape voided": (
        "UPDATE incidents SET voided_at = :now WHERE case_id = :rape",
        lambda n: n.rapes,
    ),
    "a case's consent to statistics withdrawn": (
        "UPDATE cases SET consent_statistics = false WHERE id = :second",
        _sent,
    ),
    "a case now at high risk": (
        "UPDATE cases SET risk_level = 'high' WHERE id = :second",
        lambda n: n.high_risk,
    ),
}


@pytest.mark.parametrize("period", [YEAR, MONTH], ids=["year", "month"])
@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_past_the_services_changes_the_next_answer(app, network, write, period):
    statement, changed = WRITES[write]
    before, _fresh = numbers(app, period)
    params = {
        "completed": uuid.UUID(network.completed).hex,
        "accepted": uuid.UUID(network.accepted).hex,
        "follow_up": uuid.UUID(network.follow_up).hex,
        "measure": uuid.UUID(network.measure).hex,
        "note": uuid.UUID(network.note).hex,
        "rape": uuid.UUID(network.rape_case).hex,
        "second": uuid.UUID(network.cases[1]).hex,
        "now": naive(utcnow()),
        "long_ago": TODAY - timedelta(days=30),
    }
    run_sql(
        app, _with_ids(app, statement), **{k: v for k, v in params.items() if f":{k}" in statement}
    )
    after, fresh = numbers(app, period)
    assert_same(after, fresh)
    assert changed(after) != changed(before)


IDS = ("completed", "accepted", "follow_up", "measure", "note", "rape", "second", "first")


def _with_ids(app, statement: str) -> str:
    """Uuid columns are text without dashes on SQLite and uuid on PostgreSQL."""
    with app.app_context():
        if db.session.get_bind().dialect.name == "postgresql":
            for name in IDS:
                statement = statement.replace(f":{name}", f"CAST(:{name} AS uuid)")
    return statement


def test_an_assessment_moved_after_the_breach_counts_as_the_reassessment(app, network):
    breached = utcnow() - timedelta(hours=3)
    first = uuid.UUID(network.cases[0]).hex
    move_assessment = _with_ids(
        app, "UPDATE risk_assessments SET created_at = :at WHERE case_id = :first"
    )
    run_sql(app, move_assessment, at=naive(breached - timedelta(hours=1)), first=first)
    run_sql(
        app,
        _with_ids(app, "UPDATE protection_measures SET breached_at = :at WHERE id = :measure"),
        at=naive(breached),
        measure=uuid.UUID(network.measure).hex,
    )
    before, _fresh = numbers(app, YEAR)
    assert before.breaches == [1, 0]  # her only assessment came before the breach
    run_sql(app, move_assessment, at=naive(breached + timedelta(hours=1)), first=first)
    after, fresh = numbers(app, YEAR)
    assert_same(after, fresh)
    assert after.breaches == [1, 1]


def test_a_write_in_another_month_leaves_this_months_numbers_alone(app, network, monkeypatch):
    october = (date(TODAY.year, 10, 1), date(TODAY.year, 10, 31))
    numbers(app, YEAR)
    counted: list[tuple[date, date]] = []
    real = network_counts.referral_counts

    def counting(session, start, end):
        counted.append((start, end))
        return real(session, start, end)

    monkeypatch.setattr(network_counts, "referral_counts", counting)
    run_sql(app, _with_ids(app, "UPDATE referrals SET status = 'cancelled' WHERE id = :completed"),
            completed=uuid.UUID(network.completed).hex)  # fmt: skip
    after, fresh = numbers(app, YEAR)
    assert_same(after, fresh)
    assert (MONTH[0], MONTH[1]) in counted  # this month's, counted again
    assert october not in counted  # and no other month's (the fresh count is the year's)
    assert [period for period in counted if period != YEAR] == [MONTH]


def test_the_stored_numbers_hold_codes_and_numbers_only(app, network):
    numbers(app, YEAR)
    with app.app_context():
        rows = db.session.execute(text("SELECT key, counts FROM stat_counts")).all()
    stored = " ".join(f"{key} {counts}" for key, counts in rows)
    assert "ind|" in stored
    for case_id in network.cases:
        assert case_id not in stored and uuid.UUID(case_id).hex not in stored
    assert "Asesoría" not in stored


def test_stats_refresh_counts_ahead_so_requests_count_nothing(app, network, monkeypatch):
    run_sql(app, "DELETE FROM stat_counts")  # as after a deployment or a bulk load
    result = app.test_cli_runner().invoke(args=["stats", "refresh"])
    assert result.exit_code == 0, result.output
    assert f"{TODAY:%Y-%m}" in result.output and str(TODAY.year) in result.output

    def refuse(*_args: Any) -> None:
        raise AssertionError("a request counted from the record")

    for name in ("referral_counts", "referral_durations", "follow_up_counts", "high_risk_counts"):
        monkeypatch.setattr(network_counts, name, refuse)
    monkeypatch.setattr(stats, "count_groups", refuse)
    monkeypatch.setattr(stats, "count_together", refuse)
    with app.app_context():
        for period in (MONTH, YEAR):
            network_indicators(db.session, *period)
        monthly_report(db.session, *MONTH, None)
        dashboard(db.session, StatsQuery(*YEAR, tuple(DASHBOARD_BY.split(","))))
