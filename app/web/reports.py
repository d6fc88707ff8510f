"""The observatory's pages, for supervisors: the dashboard, the printable monthly
report and the CSV downloads (each one audited as an export)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from marshmallow import ValidationError

from app.core.downloads import csv_response
from app.core.errors import InvalidInput
from app.core.time import local_today
from app.crypto.service import get_keyring
from app.extensions import db
from app.reports import service
from app.reports.dimensions import DIMENSIONS
from app.reports.exports import CsvFile
from app.reports.labels import AGE_YEARS, MONTH_NAMES, NO_DATA, NO_REFERRAL
from app.reports.policy import may_view_reports
from app.reports.schemas import PeriodIn, StatsQueryIn
from app.reports.stats import Axis, StatsQuery, StatsTable, check_query, query_from_args
from app.reports.suppression import TOTAL
from app.web.charts import Point, bar_chart, line_chart
from app.web.formtools import web_caller

bp = Blueprint("reports", __name__, url_prefix="/reports")

DEFAULT_BY = service.DASHBOARD_BY


@bp.before_request
def supervisors_only() -> None:
    # Anonymous visitors never get here: the app-wide default deny sends them to login.
    if not may_view_reports(current_user):
        abort(403)


@dataclass
class Filters:
    """The counts shown (`query`) and what the form shows: her own choices, kept as she
    made them when they were refused (the counts are then the defaults')."""

    args: dict[str, Any]
    query: StatsQuery
    errors: list[str] = field(default_factory=list)
    chosen: dict[str, Any] = field(default_factory=dict)
    wrong: frozenset[str] = frozenset()


def form_choices(
    start: str, end: str, municipality: str | None, by: list[str], unit: str
) -> dict[str, Any]:
    return {
        "from": start,
        "to": end,
        "municipality": municipality or "",
        "rows": by[0] if by else "",
        "columns": by[1] if len(by) > 1 else "",
        "unit": unit,
    }


def choices_of(query: StatsQuery) -> dict[str, Any]:
    start, end = query.start.isoformat(), query.end.isoformat()
    return form_choices(start, end, query.municipality, list(query.by), query.unit)


def choices_as_typed(raw: dict[str, str], by: list[str]) -> dict[str, Any]:
    return form_choices(
        raw.get("from", ""), raw.get("to", ""), raw.get("municipality"), by, raw.get("unit", "")
    )


def _wrong_fields(error: ValidationError | InvalidInput) -> frozenset[str]:
    found = error.messages if isinstance(error, ValidationError) else error.fields
    return frozenset(found) if isinstance(found, dict) else frozenset()


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
    by = [v for v in request.args.getlist("by") if v]
    raw["by"] = ",".join(by) or DEFAULT_BY
    try:
        args = StatsQueryIn().load(raw)
        query = query_from_args(db.session, args)
        check_query(query)  # what only the whole question can refuse (a year by month and more)
        return Filters(args, query, chosen=choices_of(query))
    except (ValidationError, InvalidInput) as error:
        args = StatsQueryIn().load({"by": DEFAULT_BY})
        return Filters(
            args,
            query_from_args(db.session, args),
            _messages(error),
            choices_as_typed(raw, by),
            _wrong_fields(error),
        )


def download(file: CsvFile) -> Response:
    return csv_response(file.text, file.name)


# ---- labels in the page's language --------------------------------------------------
# The statistics keep their Spanish labels (the API and the CSV say them as they are);
# a page shows them translated, in the order the Spanish labels set.

# Labels that are proper names (places) and stay as they are, save "no data".
PROPER_NAMES = frozenset({"district", "municipality", "department"})


def month_name(value: str, short: bool = False) -> str:
    """ "2026-10" → "octubre 2026" ("oct 26" on a chart's axis), in the page's language."""
    year, _sep, month = value.partition("-")
    if not month.isdigit() or not 1 <= int(month) <= 12:
        return value
    name = _(MONTH_NAMES[int(month) - 1])
    return f"{name[:3]} {year[-2:]}" if short else f"{name} {year}"


def value_label(dimension: str, value: str, label: str) -> str:
    """The label of one value of a dimension, as this page says it."""
    if dimension == "month":
        return month_name(value)
    if label in (NO_DATA, NO_REFERRAL):
        return _(label)
    if dimension == "age_group":
        return _(AGE_YEARS, range=value)
    if dimension in PROPER_NAMES or label == value:  # a name, or a code nobody labelled
        return label
    return _(label)


def shown_axis(axis: Axis) -> Axis:
    labels = {v: value_label(axis.dimension, v, axis.labels[v]) for v in axis.values}
    return replace(axis, label=_(axis.label), labels=labels)


def shown_table(table: StatsTable) -> StatsTable:
    """The same counts, with the labels in the page's language."""
    columns = shown_axis(table.columns) if table.columns is not None else None
    return replace(table, rows=shown_axis(table.rows), columns=columns)


def shown_indicators(indicators: dict[str, Any]) -> dict[str, Any]:
    """The indicators with the services named in the page's language (the institutions'
    names are proper names)."""
    by_service = [{**item, "label": _(str(item.get("label")))} for item in indicators["by_service"]]
    return {**indicators, "by_service": by_service}


def dimension_names() -> dict[str, str]:
    return {key: _(dimension.label) for key, dimension in DIMENSIONS.items()}


# ---- charts ----------------------------------------------------------------------------


def row_points(table: StatsTable) -> list[Point]:
    return [Point(table.rows.labels[v], table.cell(v)) for v in table.rows.values]


def column_points(table: StatsTable) -> list[Point]:
    if table.columns is None:
        return []
    return [Point(table.columns.labels[c], table.cell(TOTAL, c)) for c in table.columns.values]


def month_points(table: StatsTable) -> list[Point]:
    return [Point(month_name(m, short=True), table.cell(m)) for m in table.rows.values]


def _in_a_title(label: str) -> str:
    """ "Tipo de violencia (LEIV)" → "tipo de violencia (LEIV)": the acronym stays."""
    return label[:1].lower() + label[1:]


def dashboard_charts(table: StatsTable, months: StatsTable) -> list[Markup]:
    """The charts of a table whose labels are already in the page's language."""
    by_rows = _("Hechos por %(what)s", what=_in_a_title(table.rows.label))
    charts = [bar_chart(by_rows, row_points(table))]
    if table.columns is not None:
        by_columns = _("Hechos por %(what)s", what=_in_a_title(table.columns.label))
        charts.append(bar_chart(by_columns, column_points(table)))
    charts.append(line_chart(_("Hechos por mes"), month_points(months)))
    return charts


# ---- pages -----------------------------------------------------------------------------


@bp.get("", endpoint="dashboard")
def dashboard() -> str:
    filters = read_filters()
    query = filters.query
    page = service.dashboard(db.session, query)
    table = shown_table(page.table)
    return render_template(
        "reports/dashboard.html",
        filters=filters,
        table=table,
        charts=dashboard_charts(table, page.months),
        indicators=shown_indicators(page.indicators),
        dimensions=dimension_names(),
        municipalities=page.municipalities,
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


@bp.get("/monthly")
def monthly() -> str:
    start, end = month_bounds(request.args.get("month"))
    report = service.monthly_report(db.session, start, end, request.args.get("municipality"))
    tables = [shown_table(table) for table in report.tables]
    violence = tables[service.MONTHLY_DIMENSIONS.index("violence_type")]
    return render_template(
        "reports/monthly.html",
        start=report.start,
        end=report.end,
        place=report.place_name,
        municipalities=report.municipalities,
        selected=report.place,
        tables=tables,
        violence_chart=bar_chart(_("Hechos por tipo de violencia"), row_points(violence)),
        trend_chart=line_chart(_("Hechos por mes, últimos doce meses"), month_points(report.trend)),
        indicators=shown_indicators(report.indicators),
    )


# ---- downloads -------------------------------------------------------------------------


@bp.get("/stats.csv")
def stats_csv() -> Response:
    filters = read_filters()
    if filters.errors:
        abort(400)
    return download(service.export_stats(db.session, get_keyring(), web_caller(), filters.query))


@bp.get("/incidents.csv")
def incidents_csv() -> Response:
    try:
        period = PeriodIn().load(request.args.to_dict())
    except ValidationError:
        abort(400)
    file = service.export_incidents(
        db.session, get_keyring(), web_caller(), period["start"], period["end"]
    )
    return download(file)
