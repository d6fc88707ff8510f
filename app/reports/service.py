"""What the faces ask of the observatory: the dashboard, the monthly report and the CSV
downloads. Each download writes its `export` audit row here, in the request's
transaction, so the pages and the API record the same event with the same detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from app.audit.service import audit
from app.auth.caller import Caller
from app.auth.throttle_store import charge_read
from app.core.db import DbSession
from app.crypto.keyring import KeyRing
from app.reports import exports
from app.reports.cube import month_end
from app.reports.exports import CsvFile
from app.reports.indicators import network_indicators
from app.reports.labels import municipality_names
from app.reports.policy import require_export
from app.reports.stats import StatsQuery, StatsTable, month_trend, period_cube, stats_table

STATS_FILE = "estadisticas.csv"
INCIDENTS_FILE = "incidentes.csv"
# The monthly report's tables, in the order the page prints them.
MONTHLY_DIMENSIONS = (
    "district",
    "municipality",
    "violence_type",
    "gbvims_type",
    "age_group",
    "perpetrator_relationship",
    "days_to_report",
    "entry_institution_kind",
    "referral_service",
)
TREND_MONTHS = 12
# The dashboard's table when none is asked for (over this year, by default).
DASHBOARD_BY = "district,violence_type"


@dataclass(frozen=True)
class Dashboard:
    table: StatsTable
    months: StatsTable
    indicators: dict[str, Any]
    municipalities: dict[str, str]


@dataclass(frozen=True)
class MonthlyReport:
    start: date
    end: date
    place: str | None  # a district code the network knows, or None for all of them
    municipalities: dict[str, str]
    tables: list[StatsTable]
    trend: StatsTable
    indicators: dict[str, Any]

    @property
    def place_name(self) -> str | None:
        return self.municipalities.get(self.place or "")


def dashboard(session: DbSession, query: StatsQuery) -> Dashboard:
    """The table asked for, incidents by month over the same period, and the indicators."""
    year_start = query.start.replace(month=1, day=1)
    return Dashboard(
        table=stats_table(session, query),
        months=month_trend(session, year_start, query.end, "incidents", query.municipality),
        indicators=network_indicators(session, query.start, query.end),
        municipalities=municipality_names(session),
    )


def months_back(first: date, count: int) -> date:
    """The first day of the month `count - 1` months before `first`'s."""
    year, month = divmod(first.year * 12 + first.month - 1 - (count - 1), 12)
    return date(year, month + 1, 1)


def monthly_report(session: DbSession, start: date, end: date, place: str | None) -> MonthlyReport:
    """One table per dimension for the month, and the last twelve months' trend.
    An unknown district is ignored: the report covers the whole network."""
    names = municipality_names(session)
    place = place if place in names else None
    cube = period_cube(session, StatsQuery(start, end))
    tables = [
        stats_table(session, StatsQuery(start, end, (key,), municipality=place), cube)
        for key in MONTHLY_DIMENSIONS
    ]
    return MonthlyReport(
        start=start,
        end=end,
        place=place,
        municipalities=names,
        tables=tables,
        trend=month_trend(session, months_back(start, TREND_MONTHS), end, "incidents", place),
        indicators=network_indicators(session, start, end),
    )


def refresh(session: DbSession, today: date) -> list[str]:
    """Count again, and store, what the observatory publishes most: this month's and last
    month's reports (each table, the trend and the indicators) and this year's dashboard
    as it opens (its table, trend and indicators). Run from cron and after a bulk load,
    it keeps the counting from the record off the requests. The periods refreshed, as
    YYYY-MM or YYYY."""
    this_month = today.replace(day=1)
    months = [months_back(this_month, 2), this_month]
    for first in months:
        monthly_report(session, first, month_end(first), None)
    year = (date(today.year, 1, 1), date(today.year, 12, 31))
    dashboard(session, StatsQuery(*year, tuple(DASHBOARD_BY.split(","))))
    return [f"{first:%Y-%m}" for first in months] + [str(today.year)]


def export_stats(session: DbSession, ring: KeyRing, caller: Caller, query: StatsQuery) -> CsvFile:
    """The published table as CSV: the same suppressed counts the page shows."""
    charge_read(caller.id, "export")
    table = stats_table(session, query)
    audit(
        session,
        ring.audit_key,
        caller,
        "export",
        object_type="stats",
        detail=exports.stats_detail(table),
    )
    return CsvFile(STATS_FILE, exports.stats_csv(table))


def export_incidents(
    session: DbSession, ring: KeyRing, caller: Caller, start: date, end: date
) -> CsvFile:
    """De-identified incidents of the period, for supervisors only."""
    require_export(caller.user)
    charge_read(caller.id, "export")
    export = exports.incidents_csv(session, ring.index_key, start, end)
    audit(
        session,
        ring.audit_key,
        caller,
        "export",
        object_type="incidents",
        detail=exports.incidents_detail(start, end, export.rows),
    )
    return CsvFile(INCIDENTS_FILE, export.csv)
