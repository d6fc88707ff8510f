"""The indicators' medians are computed by the database (percentile_cont on PostgreSQL,
a window over the ranks on SQLite): they must equal Python's statistics.median, with
odd and even counts and ties, group by group."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Float, String, cast, literal, select, union_all

from app.extensions import db
from app.reports.network_counts import medians

DAYS = st.one_of(
    st.integers(min_value=0, max_value=4).map(float),  # ties
    st.floats(min_value=0, max_value=400, allow_nan=False, allow_infinity=False),
)
ROWS = st.lists(st.tuples(st.sampled_from(("medical", "legal_aid", "")), DAYS), max_size=40)


def _as_table(rows: list[tuple[str, float | None]]):
    parts = [
        select(
            cast(literal(group), String).label("group"), cast(literal(days), Float).label("days")
        )
        for group, days in rows
    ]
    return union_all(*parts).subquery("values")


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=ROWS, blanks=st.integers(min_value=0, max_value=3))
def test_the_database_median_is_statistics_median(app, rows, blanks):
    by_group: defaultdict[str, list[float]] = defaultdict(list)
    for group, days in rows:
        by_group[group].append(days)
    # Referrals with no duration (never accepted) are there and must not count.
    table = [*rows, *[("medical", None)] * blanks]
    if not table:
        return
    with app.app_context():
        found = medians(db.session, _as_table(table), ("group",), "days")
        exact = db.session.get_bind().dialect.name == "sqlite"
    assert set(found) == {(group,) for group in by_group}
    for group, values in by_group.items():
        count, median = found[(group,)]
        assert count == len(values)
        expected = statistics.median(values)
        if exact:  # the mean of the middle two, as Python takes it
            assert median == expected
        else:  # percentile_cont interpolates: equal to the last bit or two
            assert math.isclose(median, expected, rel_tol=1e-12, abs_tol=1e-12)


def test_an_even_count_takes_the_mean_of_the_middle_two(app):
    rows = [("x", 1.0), ("x", 9.0), ("x", 3.0), ("x", 4.0), ("y", 2.0), ("y", 2.0), ("y", 7.0)]
    with app.app_context():
        found = medians(db.session, _as_table(rows), ("group",), "days")
    assert found == {("x",): (4, 3.5), ("y",): (3, 2.0)}
