"""The observatory's API: de-identified counts, network indicators, the incident export,
and the survivor's public status lookup."""

from __future__ import annotations

from flask import Response, jsonify, request

from app.api import bp
from app.api.auth import current_api_user
from app.api.helpers import audit, json_body, load
from app.crypto.service import get_keyring
from app.extensions import db, limiter
from app.reports import exports
from app.reports.indicators import network_indicators
from app.reports.policy import require_export
from app.reports.schemas import PeriodIn, StatsQueryIn, StatusIn
from app.reports.stats import query_from_args, stats_table, table_payload
from app.status.service import PER_ADDRESS_LIMIT, code_throttle, look_up_status


@bp.get("/stats")
def stats() -> Response:
    args = load(StatsQueryIn, request.args.to_dict())
    table = stats_table(db.session, query_from_args(db.session, args))
    if args["format"] == "csv":
        audit("export", object_type="stats", detail=exports.stats_detail(table))
        db.session.commit()
        return exports.csv_response(exports.stats_csv(table), "estadisticas.csv")
    return jsonify(table_payload(table))


@bp.get("/stats/indicators")
def indicators() -> Response:
    period = load(PeriodIn, request.args.to_dict())
    return jsonify(network_indicators(db.session, period["start"], period["end"]))


@bp.get("/exports/incidents.csv")
def export_incidents() -> Response:
    require_export(current_api_user())
    period = load(PeriodIn, request.args.to_dict())
    start, end = period["start"], period["end"]
    export = exports.incidents_csv(db.session, get_keyring().index_key, start, end)
    detail = exports.incidents_detail(start, end, export.rows)
    audit("export", object_type="incidents", detail=detail)
    db.session.commit()
    return exports.csv_response(export.csv, "incidentes.csv")


def wrong_pair(response: Response) -> bool:
    """Only wrong code/PIN pairs count against the caller's address."""
    return response.status_code == 404


@bp.post("/status", endpoint="survivor_status")
@limiter.shared_limit(PER_ADDRESS_LIMIT, scope="status-lookup", deduct_when=wrong_pair)
def survivor_status() -> Response:
    data = load(StatusIn, json_body())
    stage = look_up_status(db.session, get_keyring(), code_throttle(), data["code"], data["pin"])
    return jsonify({"status": stage.status, "next_step": stage.next_step})
