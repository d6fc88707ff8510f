"""The observatory's pages, for supervisors: the dashboard, the printable monthly
report and the CSV downloads (each one audited as an export)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from flask import Response, abort, render_template, request
from flask_login import current_user
from markupsafe import Markup
from marshmallow import ValidationError

from app.audit.service import Actor, record_event
from app.core.errors import InvalidInput
from app.core.time import local_today
from app.crypto.service import get_keyring
from app.extensions import db
from app.reports import bp, exports
from app.reports.dimensions import DIMENSIONS
from app.reports.indicators import network_indicators
from app.reports.labels import municipality_names, short_month_label
from app.reports.policy import may_view_reports
from app.reports.schemas import PeriodIn, StatsQueryIn
from app.reports.stats import StatsQuery, StatsTable, query_from_args, stats_table
from app.reports.suppression import TOTAL
from app.web.charts import Point, bar_chart, line_chart

DEFAULT_BY = "municipality,violence_type"
MONTHLY_DIMENSIONS = (
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


@bp.before_request
def supervisors_only() -> None:
    # Anonymous visitors never get here: the app-wide default deny sends them to login.
    if not may_view_reports(current_user):
        abort(403)


@dataclass
class Filters:
    args: dict[str, Any]
    query: StatsQuery
    errors: list[str] = field(default_factory=list)


def _messages(error: ValidationError | InvalidInput) -> list[str]:
    found = error.messages if isinstance(error, ValidationError) else error.fields
    pending: list[Any] = [found]
    texts: list[str] = []
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        else:
            texts.append(str(item))
    return texts


def read_filters() -> Filters:
    """The period, place and dimensions asked for; the defaults, with a message, if wrong."""
    raw = {k: v for k, v in request.args.to_dict().items() if v and k != "format"}
    raw["by"] = ",".join(v for v in request.args.getlist("by") if v) or DEFAULT_BY
    try:
        args = StatsQueryIn().load(raw)
        return Filters(args, query_from_args(db.session, args))
    except (ValidationError, InvalidInput) as error:
        args = StatsQueryIn().load({"by": DEFAULT_BY})
        return Filters(args, query_from_args(db.session, args), _messages(error))


def web_actor() -> Actor:
    user = current_user
    return Actor(user.id, user.username, user.institution.code, user.role, request.remote_addr)


def audit_export(object_type: str, detail: str) -> None:
    record_event(
        db.session, get_keyring().audit_key, web_actor(), "export",
        object_type=object_type, detail=detail,
    )  # fmt: skip


# ---- charts ----------------------------------------------------------------------------


def row_points(table: StatsTable) -> list[Point]:
    return [Point(table.rows.labels[v], table.cell(v)) for v in table.rows.values]


def column_points(table: StatsTable) -> list[Point]:
    if table.columns is None:
        return []
    return [Point(table.columns.labels[c], table.cell(TOTAL, c)) for c in table.columns.values]


def month_points(table: StatsTable) -> list[Point]:
    return [Point(short_month_label(m), table.cell(m)) for m in table.rows.values]


def dashboard_charts(table: StatsTable, months: StatsTable) -> list[Markup]:
    charts = [bar_chart(f"Hechos por {table.rows.label.lower()}", row_points(table))]
    if table.columns is not None:
        charts.append(bar_chart(f"Hechos por {table.columns.label.lower()}", column_points(table)))
    charts.append(line_chart("Hechos por mes", month_points(months)))
    return charts


# ---- pages -----------------------------------------------------------------------------


@bp.get("", endpoint="dashboard")
def dashboard() -> str:
    filters = read_filters()
    query = filters.query
    table = stats_table(db.session, query)
    months = stats_table(db.session, replace(query, by=("month",), unit="incidents"))
    return render_template(
        "reports/dashboard.html",
        filters=filters,
        table=table,
        charts=dashboard_charts(table, months),
        indicators=network_indicators(db.session, query.start, query.end),
        dimensions=DIMENSIONS,
        municipalities=municipality_names(db.session),
        export_args={
            "from": query.start.isoformat(),
            "to": query.end.isoformat(),
            "by": ",".join(query.by),
            "unit": query.unit,
            **({"municipality": query.municipality} if query.municipality else {}),
        },
    )


def month_bounds(value: str | None) -> tuple[date, date]:
    """ "2026-10" → (1 Oct, 31 Oct); the last whole month when absent or wrong."""
    try:
        first = date.fromisoformat(f"{value}-01")
    except (TypeError, ValueError):
        first = (local_today().replace(day=1) - timedelta(days=1)).replace(day=1)
    after = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, after - timedelta(days=1)


def months_back(first: date, count: int) -> date:
    year, month = divmod(first.year * 12 + first.month - 1 - (count - 1), 12)
    return date(year, month + 1, 1)


@bp.get("/monthly")
def monthly() -> str:
    start, end = month_bounds(request.args.get("month"))
    names = municipality_names(db.session)
    place = request.args.get("municipality")
    place = place if place in names else None
    tables = [
        stats_table(db.session, StatsQuery(start, end, (key,), municipality=place))
        for key in MONTHLY_DIMENSIONS
    ]
    trend_query = StatsQuery(months_back(start, TREND_MONTHS), end, ("month",), municipality=place)
    trend = stats_table(db.session, trend_query)
    return render_template(
        "reports/monthly.html",
        start=start,
        end=end,
        place=names.get(place or ""),
        municipalities=names,
        selected=place,
        tables=tables,
        violence_chart=bar_chart("Hechos por tipo de violencia", row_points(tables[1])),
        trend_chart=line_chart("Hechos por mes, últimos doce meses", month_points(trend)),
        indicators=network_indicators(db.session, start, end),
    )


# ---- downloads -------------------------------------------------------------------------


@bp.get("/stats.csv")
def stats_csv() -> Response:
    filters = read_filters()
    if filters.errors:
        abort(400)
    table = stats_table(db.session, filters.query)
    audit_export("stats", exports.stats_detail(table))
    db.session.commit()
    return exports.csv_response(exports.stats_csv(table), "estadisticas.csv")


@bp.get("/incidents.csv")
def incidents_csv() -> Response:
    try:
        period = PeriodIn().load(request.args.to_dict())
    except ValidationError:
        abort(400)
    start, end = period["start"], period["end"]
    export = exports.incidents_csv(db.session, get_keyring().index_key, start, end)
    audit_export("incidents", exports.incidents_detail(start, end, export.rows))
    db.session.commit()
    return exports.csv_response(export.csv, "incidentes.csv")
