"""The observatory's stored counts: kept between requests, counted again for the months
a write touched (whatever wrote it), and always equal to a count from scratch."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from app.extensions import db
from app.reports import stats
from app.reports.stats import (
    StatsQuery,
    count_groups,
    count_returns,
    count_together,
    stats_table,
)
from app.reports.stored import Asked, Counting, StoredCounts
from tests.conftest import USING_PG
from tests.observatory_world import health, kept_seeded, pnc, seeded, settings  # noqa: F401
from tests.report_helpers import PERIOD, add_incident, get_stats
from tests.test_referral_inbox import institution_id, refer

YEAR = {"from": "2026-01-01", "to": "2026-12-31"}


def run_sql(app, statement: str, **params: Any) -> None:
    """A write straight to the database, past every service: the triggers must see it."""
    with app.app_context():
        db.session.execute(text(statement), params)
        db.session.commit()


def forget_stored_counts(app) -> None:
    run_sql(app, "DELETE FROM stat_counts")


def from_scratch(app, client, person, **query: str) -> dict[str, Any]:
    forget_stored_counts(app)
    return get_stats(client, person, **query)


def count_calls(monkeypatch) -> list[tuple[date, date, tuple[str, ...]]]:
    """The periods and dimensions counted from the incidents from now on."""
    calls: list[tuple[date, date, tuple[str, ...]]] = []

    def counting(session, query: StatsQuery):
        calls.append((query.start, query.end, query.by))
        return count_groups(session, query)

    monkeypatch.setattr(stats, "count_groups", counting)
    return calls


def test_a_stored_count_is_answered_again_without_counting(client, pnc, seeded, monkeypatch):
    first = get_stats(client, pnc, by="district,violence_type")
    calls = count_calls(monkeypatch)
    again = get_stats(client, pnc, by="district,violence_type")
    assert again == first
    assert calls == []


def test_a_write_in_another_month_leaves_this_months_counts_alone(
    app, client, pnc, seeded, monkeypatch
):
    get_stats(client, pnc, by="district")
    calls = count_calls(monkeypatch)
    run_sql(app, "UPDATE incidents SET age_group = NULL WHERE occurred_on < '2026-09-01'")
    get_stats(client, pnc, by="district")
    assert calls == []
    run_sql(app, "UPDATE incidents SET age_group = NULL WHERE occurred_on >= '2026-10-01'")
    get_stats(client, pnc, by="district")
    assert calls == [(date(2026, 10, 1), date(2026, 10, 31), ("district",))]


def first_october_incident(app) -> str:
    with app.app_context():
        return db.session.execute(
            text(
                "SELECT id FROM incidents WHERE occurred_on >= '2026-10-01' "
                "AND municipality = 'acajutla' ORDER BY created_at LIMIT 1"
            )
        ).scalar_one()


def first_acajutla_case(app) -> str:
    with app.app_context():
        return db.session.execute(
            text(
                "SELECT case_id FROM incidents WHERE municipality = 'acajutla' "
                "AND occurred_on >= '2026-10-01' ORDER BY created_at LIMIT 1"
            )
        ).scalar_one()


# Each: (a write past the services, the table it shows in).
Change = Callable[[Any], None]


def void_incident(app) -> None:
    run_sql(app, "UPDATE incidents SET voided_at = created_at WHERE id = :id",
            id=first_october_incident(app))  # fmt: skip


def move_incident_to_august(app) -> None:
    run_sql(app, "UPDATE incidents SET occurred_on = '2026-08-20' WHERE id = :id",
            id=first_october_incident(app))  # fmt: skip


def move_incident_to_sonsonate(app) -> None:
    run_sql(app, "UPDATE incidents SET municipality = 'sonsonate' WHERE id = :id",
            id=first_october_incident(app))  # fmt: skip


def delete_a_violence_type(app) -> None:
    run_sql(app, "DELETE FROM incident_violence_types WHERE incident_id = :id",
            id=first_october_incident(app))  # fmt: skip


def revoke_statistics_consent(app) -> None:
    run_sql(app, "UPDATE cases SET consent_statistics = false WHERE id = :id",
            id=first_acajutla_case(app))  # fmt: skip


def change_survivor_sex(app) -> None:
    run_sql(
        app,
        "UPDATE survivors SET sex = 'X' WHERE id = (SELECT survivor_id FROM cases WHERE id = :id)",
        id=first_acajutla_case(app),
    )


def remap_the_district(app) -> None:
    run_sql(
        app, "UPDATE municipalities SET municipality_2024 = 'SO-CENTRO' WHERE code = 'acajutla'"
    )


def change_an_institution_kind(app) -> None:
    run_sql(app, "UPDATE institutions SET kind = 'ngo' WHERE code = 'US-SON'")


CHANGES: list[tuple[Change, str]] = [
    (void_incident, "district"),
    (move_incident_to_august, "district"),
    (move_incident_to_sonsonate, "district,violence_type"),
    (delete_a_violence_type, "violence_type"),
    (revoke_statistics_consent, "district"),
    (change_survivor_sex, "sex"),
    (remap_the_district, "municipality"),
    (change_an_institution_kind, "entry_institution_kind"),
]


@pytest.mark.parametrize(("change", "by"), CHANGES, ids=[c.__name__ for c, _ in CHANGES])
def test_whatever_writes_a_counted_fact_the_next_answer_counts_it(
    app, client, pnc, seeded, change, by
):
    before = get_stats(client, pnc, by=by)
    change(app)
    after = get_stats(client, pnc, by=by)
    assert after != before, "the change must show in this table"
    assert after == from_scratch(app, client, pnc, by=by)


def test_referrals_sent_through_the_api_count_at_once(app, client, pnc, health, seeded):
    before = get_stats(client, pnc, by="referral_service")
    refer(client, pnc, seeded.case_ids[0], institution_id(client, pnc, "US-SON"))
    after = get_stats(client, pnc, by="referral_service")
    assert after != before
    medical = [row for row in after["rows"] if row["key"] == "medical"]
    assert medical and medical[0]["total"] == "<5"
    outcomes = get_stats(client, pnc, by="referral_outcome")
    run_sql(app, "UPDATE referrals SET status = 'declined'")
    declined = get_stats(client, pnc, by="referral_outcome")
    assert declined != outcomes
    assert declined == from_scratch(app, client, pnc, by="referral_outcome")


def raw_in(session) -> Counting:
    """Counting from the incidents, one table at a time."""

    def count(start: date, end: date, asked: list[Asked]) -> dict[Asked, dict]:
        return {
            one: count_groups(session, StatsQuery(start, end, one.by, one.unit, one.place))
            for one in asked
        }

    return Counting(count, partial(count_returns, session))


NOTHING = Counting(lambda *_: {}, lambda *_: {})  # a stored answer must not count


@pytest.mark.parametrize("unit", ["incidents", "cases", "survivors"])
@pytest.mark.parametrize("by", [("district",), ("month",), ("violence_type",)])
def test_a_years_stored_counts_equal_the_year_counted_from_the_incidents(app, seeded, unit, by):
    with app.app_context():
        query = StatsQuery(date(2026, 1, 1), date(2026, 12, 31), by, unit=unit)
        asked = Asked(unit, by)
        first = StoredCounts(db.session).counts(query.start, query.end, asked, raw_in(db.session))
        again = StoredCounts(db.session).counts(query.start, query.end, asked, NOTHING)
        assert first == count_groups(db.session, query)
        assert again == first  # the second answer is the stored one


PAIRS = [
    ("district", "violence_type"),
    ("municipality", "sex"),
    ("referral_service", "district"),
    ("referral_outcome", "age_group"),
]


@pytest.mark.parametrize("unit", ["incidents", "cases", "survivors"])
@pytest.mark.parametrize("pair", PAIRS, ids=",".join)
def test_a_table_and_its_margins_counted_together_equal_each_counted_alone(
    app, client, pnc, health, seeded, unit, pair
):
    refer(client, pnc, seeded.case_ids[0], institution_id(client, pnc, "US-SON"))
    refer(client, health, seeded.case_ids[20], institution_id(client, health, "PNC-SON"),
          service="police_complaint")  # fmt: skip
    asked = [Asked(unit, pair), Asked(unit, pair[:1]), Asked(unit, pair[1:])]
    with app.app_context():
        october = (date(2026, 10, 1), date(2026, 10, 31))
        together = count_together(db.session, *october, asked)
        assert together == raw_in(db.session).groups(*october, asked)
        assert all(together.values())


def test_the_year_table_follows_a_change_in_one_of_its_months(app, client, pnc, seeded):
    before = get_stats(client, pnc, by="month", unit="survivors", **YEAR)
    revoke_statistics_consent(app)
    after = get_stats(client, pnc, by="month", unit="survivors", **YEAR)
    assert after != before
    assert after == from_scratch(app, client, pnc, by="month", unit="survivors", **YEAR)


def test_the_stored_counts_hold_codes_and_numbers_only(app, client, pnc, seeded):
    get_stats(client, pnc, by="district,violence_type")
    get_stats(client, pnc, by="sex", unit="survivors")
    with app.app_context():
        stored = " ".join(
            db.session.execute(text("SELECT key || ' ' || counts FROM stat_counts")).scalars()
        )
    assert stored
    for secret in seeded.secrets:
        assert secret not in stored
    assert PERIOD["from"][:7] in stored


def test_two_requests_counting_the_same_month_at_once_do_not_wait_on_each_other(app, seeded):
    """Each counts and answers; the one that finds the count being stored by the other
    does not store it (PostgreSQL: it would wait on that row; SQLite has one writer)."""
    october = (date(2026, 10, 1), date(2026, 10, 31))
    asked = Asked("incidents", ("district",))
    with app.app_context():
        engine = db.engine
        with Session(engine) as first, Session(engine) as second:
            answer = StoredCounts(first).counts(*october, asked, raw_in(first))
            if USING_PG:  # the first has not committed: its stored row is still locked
                second.execute(text("SET LOCAL lock_timeout = '2s'"))
                assert StoredCounts(second).counts(*october, asked, raw_in(second)) == answer
                second.commit()
            first.commit()
        again = StoredCounts(db.session).counts(*october, asked, NOTHING)
        assert again == answer


def test_the_tables_of_one_transaction_take_the_notes_once(app, seeded):
    taken: list[str] = []

    def note_takes(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("DELETE FROM STAT_CHANGES"):
            taken.append(statement)

    with app.app_context(), app.test_request_context():
        event.listen(db.engine, "before_cursor_execute", note_takes)
        try:
            october = (date(2026, 10, 1), date(2026, 10, 31))
            for by in (("district",), ("sex",), ("district", "violence_type")):
                stats_table(db.session, StatsQuery(*october, by))
            stats_table(db.session, StatsQuery(*october, ("sex",), municipality="acajutla"))
            assert len(taken) == 1
            db.session.commit()
            stats_table(db.session, StatsQuery(*october, ("district",)))
            assert len(taken) == 2  # a new transaction looks again
        finally:
            event.remove(db.engine, "before_cursor_execute", note_takes)


@pytest.mark.skipif(not USING_PG, reason="PostgreSQL's JIT")
def test_postgresql_connections_do_not_compile_queries(app):
    # JIT compiling took a third of a month's recount at a million incidents
    with app.app_context():
        assert db.session.execute(text("SHOW jit")).scalar() == "off"


def test_a_year_table_after_a_write_counts_only_that_month_again(
    app, client, pnc, seeded, monkeypatch
):
    """The year's pattern reads its margins' tables by month too: after a write to
    October they are counted again in one go with the month's own, and the year is not
    counted again from its incidents."""
    query = {"by": "district,violence_type", "unit": "cases", **YEAR}
    get_stats(client, pnc, **query)
    calls: list[tuple[date, date, int]] = []

    def counting(session, start, end, asked):
        calls.append((start, end, len(asked)))
        return count_together(session, start, end, asked)

    monkeypatch.setattr(stats, "count_together", counting)
    run_sql(app, "UPDATE incidents SET age_group = age_group WHERE occurred_on >= '2026-10-01'")
    after = get_stats(client, pnc, **query)
    # the month's table and margins, and the margins by month: the year is its months
    # less those they count again, which reads only the year's repeats
    assert calls == [(date(2026, 10, 1), date(2026, 10, 31), 6)]
    monkeypatch.undo()
    assert after == from_scratch(app, client, pnc, **query)


def incidents_of(app, district: str, month: str, kind: str = "physical") -> list[tuple[Any, Any]]:
    """(incident id, case id) of a district's incidents of one violence type dated in a
    month (YYYY-MM), in the order they were recorded."""
    with app.app_context():
        rows = db.session.execute(
            text(
                "SELECT i.id, i.case_id FROM incidents i JOIN incident_violence_types t "
                "ON t.incident_id = i.id WHERE i.municipality = :district AND "
                "t.violence_type = :kind AND i.occurred_on >= :first AND i.occurred_on <= :last "
                "ORDER BY i.created_at"
            ),
            {"district": district, "kind": kind, "first": f"{month}-01", "last": f"{month}-28"},
        )
        return [tuple(row) for row in rows]


def year_as_stored_and_from_scratch(app, unit: str, by: tuple[str, ...]) -> tuple[dict, dict]:
    query = StatsQuery(date(2026, 1, 1), date(2026, 12, 31), by, unit=unit)
    with app.app_context(), app.test_request_context():
        stored = stats.stored_groups(db.session, query)
        db.session.commit()
        return stored, count_groups(db.session, query)


def months_summed(app, unit: str, by: tuple[str, ...]) -> dict:
    with app.app_context(), app.test_request_context():
        view = StoredCounts(db.session)
        return view.months(date(2026, 1, 1), date(2026, 12, 31), Asked(unit, by),
                           raw_in(db.session))  # fmt: skip


def add_a_march_incident_by_api(app, client, health, seeded) -> None:
    add_incident(client, health, seeded.case_ids[14], occurred_on="2026-03-03")  # an October case


def move_an_incident_to_another_case_and_month(app, client, health, seeded) -> None:
    (_, keeper), (moved, _) = incidents_of(app, "acajutla", "2026-10", "psychological")[:2]
    run_sql(app, "UPDATE incidents SET case_id = :case, occurred_on = '2026-06-01' "
            "WHERE id = :id", case=keeper, id=moved)  # fmt: skip


def give_two_records_one_code(app, client, health, seeded) -> None:
    (_, august), *_ = incidents_of(app, "acajutla", "2026-08")
    (_, october), *_ = incidents_of(app, "acajutla", "2026-10")
    for case_id in (august, october):
        run_sql(app, "UPDATE survivors SET stat_code = 'una-sola-mujer' WHERE id = "
                "(SELECT survivor_id FROM cases WHERE id = :id)", id=case_id)  # fmt: skip


REPEATS = [add_a_march_incident_by_api, move_an_incident_to_another_case_and_month,
           give_two_records_one_code]  # fmt: skip


@pytest.mark.parametrize("unit", ["cases", "survivors"])
@pytest.mark.parametrize("write", REPEATS, ids=[w.__name__ for w in REPEATS])
def test_a_year_counts_once_whom_its_months_count_twice(app, client, health, seeded, unit, write):
    """A year's cases and women are its months' less those they count again: a case (or
    a woman) in two months of the year counts once in it, whichever write put her there."""
    for by in (("district",), ("violence_type",), ("district", "violence_type")):
        year_as_stored_and_from_scratch(app, unit, by)  # stored before the write
    write(app, client, health, seeded)
    repeated = unit == "survivors" or write is not give_two_records_one_code
    for by in (("district",), ("violence_type",), ("district", "violence_type")):
        stored, counted = year_as_stored_and_from_scratch(app, unit, by)
        assert stored == counted
        if repeated:  # the months count her twice: the year must not
            assert months_summed(app, unit, by) != counted


def void_the_march_incident(app, client, health, seeded) -> None:
    run_sql(app, "UPDATE incidents SET voided_at = created_at WHERE occurred_on = '2026-03-03'")


def test_the_months_counted_again_are_kept_from_one_write_to_the_next(
    app, client, health, seeded, monkeypatch
):
    """Each write counts again only what its month and the later ones count again; the
    earlier months' are kept, and the year still equals a count from scratch."""
    since: list[date] = []

    def recording(session, start, end, first, asked):
        since.append(first)
        return count_returns(session, start, end, first, asked)

    monkeypatch.setattr(stats, "count_returns", recording)
    by = ("district", "violence_type")
    year_as_stored_and_from_scratch(app, "survivors", by)
    writes = [*REPEATS, void_the_march_incident]
    for write in writes:
        write(app, client, health, seeded)
        stored, counted = year_as_stored_and_from_scratch(app, "survivors", by)
        assert stored == counted, write.__name__
    # first every month; then from each write's earliest month (the shared code's
    # October record is the one given a March incident)
    assert since == [date(2026, month, 1) for month in (1, 3, 6, 3, 3)]
