"""CSV exports: the published statistics table, and de-identified incidents in the
column layout of the GBVIMS incident recorder.

The incident export carries no name, DUI, phone, address, narrative or birth date:
it reads plain statistics columns only, never a ciphertext. The incident id is an
opaque code (a keyed hash), so a row cannot be matched to a record by its UUID, and
dates are cut to the month. Each woman carries her pseudonymous survivor code (the
same at every institution; app/crypto/survivor_code.py), and an event reported again
is one row. Every export is audited where it is made (`service.py`).

Threat (CSV injection): a cell starting with = + - @ or a tab or carriage return is
run as a formula by spreadsheet programs; such cells get a leading single quote.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from app.cases.aggressor_models import Aggressor
from app.cases.models import Case, Incident, Survivor
from app.cases.repeats import counted_once
from app.core.db import DbSession
from app.directory.models import Institution
from app.directory.territory import places as district_places
from app.referrals.models import Referral
from app.reports.incident_fields import (
    COUNTING_COLUMNS,
    SPANISH_LABELS,
    perpetrator_aggregates,
    previously_reported,
    yes_no,
)
from app.reports.labels import DAY_LIMITS, OVER_30, municipality_names
from app.reports.stats import StatsTable
from app.reports.suppression import TOTAL

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CODE_HEX_CHARS = 16
HEADER_ROWS = 2  # the recorder's column names, then their Spanish labels

# GBVIMS incident recorder columns (de-identified subset), in its order; then the
# incident's place on the 2024 map above its district (appended: column positions stay).
INCIDENT_COLUMNS = (
    "Incident ID",
    "Date of interview (month)",
    "Date of incident (month)",
    "Days from incident to report",
    "Incident location (district)",
    "Type of place",
    "Survivor sex",
    "Survivor age group",
    "GBV type (GBVIMS)",
    "Violence types (LEIV)",
    "Alleged perpetrator relationship",
    "Context",
    "Entry institution type",
    "Referral services",
    "Incident location (municipality 2024)",
    "Incident location (department)",
    *COUNTING_COLUMNS,
)
INCIDENT_LABELS = tuple(SPANISH_LABELS[column] for column in INCIDENT_COLUMNS)


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(rows: Iterable[Iterable[Any]]) -> str:
    buffer = io.StringIO()
    buffer.write("\ufeff")  # the BOM tells spreadsheet programs the file is UTF-8 (ñ, á)
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180, as spreadsheets expect
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return buffer.getvalue()


@dataclass(frozen=True)
class CsvFile:
    """A download as the faces send it: the file name and the text."""

    name: str
    text: str


# ---- the statistics table --------------------------------------------------------------


def stats_rows(table: StatsTable) -> Iterator[list[Any]]:
    """Header, one line per row value, and the totals line: what GET /stats shows."""
    columns = table.column_keys()
    corner = (
        table.rows.label
        if table.columns is None
        else (f"{table.rows.label} / {table.columns.label}")
    )
    column_labels = [table.columns.labels[c] for c in columns] if table.columns else []
    yield [corner, *column_labels, "Total"]
    for row in table.rows.values:
        cells = [table.cell(row, column) for column in columns]
        yield [table.rows.labels[row], *cells, table.cell(row)]
    yield ["Total", *(table.cell(TOTAL, column) for column in columns), table.total]


def stats_csv(table: StatsTable) -> str:
    return write_csv(stats_rows(table))


def stats_detail(table: StatsTable) -> str:
    query = table.query
    place = f" municipality={query.municipality}" if query.municipality else ""
    return (
        f"stats.csv from={query.start} to={query.end} by={','.join(query.by)} "
        f"unit={query.unit}{place}"
    )


# ---- de-identified incidents -----------------------------------------------------------


def export_key(index_key: bytes) -> bytes:
    """A key of its own for export codes: they match nothing else in the system."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"ruta/export/incident")
    return hkdf.derive(index_key)


def incident_code(key: bytes, incident_id: uuid.UUID) -> str:
    digest = hmac.new(key, incident_id.bytes, hashlib.sha256).hexdigest()
    return "INC-" + digest[:CODE_HEX_CHARS].upper()


@dataclass(frozen=True)
class IncidentExport:
    csv: str
    rows: int


def _incident_query(start: date, end: date) -> Any:
    return (
        select(
            Incident.id,
            Incident.case_id,
            Incident.reported_on,
            Incident.occurred_on,
            Incident.municipality,
            Incident.place_type,
            Survivor.sex,
            Incident.age_group,
            Incident.gbvims_type,
            Incident.violence_codes,
            Incident.perpetrator_relationship,
            Incident.context,
            Institution.kind,
            Survivor.stat_code,
            Survivor.disability,
            previously_reported().label("previously_reported"),
            Incident.modality,
        )
        .join(Case, Case.id == Incident.case_id)
        .join(Survivor, Survivor.id == Case.survivor_id)
        .join(Institution, Institution.id == Incident.entry_institution_id)
        .where(
            Case.consent_statistics.is_(True),
            Incident.voided_at.is_(None),  # entered in error: never exported
            counted_once(),  # the same event reported again: one row, its first report
            Incident.occurred_on >= start,
            Incident.occurred_on <= end,
        )
        .order_by(Incident.occurred_on, Incident.id)
    )


def _services_by_case(session: DbSession, start: date, end: date) -> dict[uuid.UUID, list[str]]:
    in_period = select(Incident.case_id).where(
        Incident.voided_at.is_(None), Incident.occurred_on >= start, Incident.occurred_on <= end
    )
    stmt = select(Referral.case_id, Referral.service).where(Referral.case_id.in_(in_period))
    services: dict[uuid.UUID, set[str]] = defaultdict(set)
    for case_id, service in session.execute(stmt):
        services[case_id].add(service)
    return {case_id: sorted(codes) for case_id, codes in services.items()}


def _aggressors_by_incident(
    session: DbSession, start: date, end: date
) -> dict[uuid.UUID, list[str]]:
    """The relationship code of each aggressor recorded on the period's incidents."""
    stmt = (
        select(Aggressor.incident_id, Aggressor.relationship)
        .join(Incident, Incident.id == Aggressor.incident_id)
        .where(
            Incident.voided_at.is_(None),
            Incident.occurred_on >= start,
            Incident.occurred_on <= end,
        )
        .order_by(Aggressor.incident_id, Aggressor.id)
    )
    aggressors: dict[uuid.UUID, list[str]] = defaultdict(list)
    for incident_id, relationship in session.execute(stmt):
        aggressors[incident_id].append(relationship)
    return aggressors


def _days_bucket(reported: date, occurred: date) -> str:
    days = (reported - occurred).days
    for limit, code in DAY_LIMITS:
        if days <= limit:
            return code
    return OVER_30


def incident_rows(
    session: DbSession, index_key: bytes, start: date, end: date
) -> Iterator[list[Any]]:
    key = export_key(index_key)
    names, places = municipality_names(session), district_places(session)
    services = _services_by_case(session, start, end)
    aggressors = _aggressors_by_incident(session, start, end)
    yield list(INCIDENT_COLUMNS)
    yield list(INCIDENT_LABELS)
    for row in session.execute(_incident_query(start, end)):
        (incident_id, case_id, reported, occurred, place, place_type, sex, age, gbv,
         codes, relationship, context, entry_kind, stat_code, disability, before,
         modality) = row  # fmt: skip
        where = places.get(place)
        yield [
            incident_code(key, incident_id),
            reported.strftime("%Y-%m"),
            occurred.strftime("%Y-%m"),
            _days_bucket(reported, occurred),
            names.get(place, place),
            place_type or "",
            sex,
            age or "unknown",
            gbv,
            codes,
            relationship,
            context or "",
            entry_kind,
            " ".join(services.get(case_id, [])),
            (where.municipality if where else None) or "",
            (where.department if where else None) or "",
            stat_code or "",
            yes_no(disability),
            yes_no(bool(before)),
            # His own records when the incident has them, else its one relationship.
            *perpetrator_aggregates(aggressors.get(incident_id) or [relationship]),
            modality or "",
        ]


def incidents_csv(session: DbSession, index_key: bytes, start: date, end: date) -> IncidentExport:
    lines = list(incident_rows(session, index_key, start, end))
    return IncidentExport(write_csv(lines), len(lines) - HEADER_ROWS)


def incidents_detail(start: date, end: date, rows: int) -> str:
    return f"incidents.csv from={start} to={end} rows={rows}"
