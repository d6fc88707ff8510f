"""The observatory's API: de-identified counts, network indicators and the incident export."""

from __future__ import annotations

from flask import Response, jsonify, request

from app.api import bp
from app.api.auth import current_api_user
from app.api.helpers import api_caller, load
from app.core.downloads import csv_response
from app.crypto.service import get_keyring
from app.extensions import db
from app.reports import service
from app.reports.indicators import network_indicators
from app.reports.policy import require_export
from app.reports.schemas import PeriodIn, PublishedPeriodIn, StatsQueryIn
from app.reports.stats import query_from_args, stats_table, table_payload


@bp.get("/stats")
def stats() -> Response:
    args = load(StatsQueryIn, request.args.to_dict())
    query = query_from_args(db.session, args)
    if args["format"] == "csv":
        file = service.export_stats(db.session, get_keyring(), api_caller(), query)
        return csv_response(file.text, file.name)
    return jsonify(table_payload(stats_table(db.session, query)))


@bp.get("/stats/indicators")
def indicators() -> Response:
    period = load(PublishedPeriodIn, request.args.to_dict())
    return jsonify(network_indicators(db.session, period["start"], period["end"]))


@bp.get("/exports/incidents.csv")
def export_incidents() -> Response:
    # Refused before the query is read: a caller who may not export learns nothing more.
    require_export(current_api_user())
    period = load(PeriodIn, request.args.to_dict())
    file = service.export_incidents(
        db.session, get_keyring(), api_caller(), period["start"], period["end"]
    )
    return csv_response(file.text, file.name)
