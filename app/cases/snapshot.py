"""A whole record read with SQLAlchemy Core into plain objects: the case read's hot path.

The ORM built a session object per row of every part, with its identity map, change
tracking and one SELECT per relationship; the read shows the record and changes
nothing, so none of that is needed. `access.py` runs the statements (it alone queries a
case) and this module says which columns each part has and turns rows into objects
with the same attribute names as the models, so `present.py` shapes either.

On PostgreSQL every part comes back in the case's own row, as a JSON array built by a
correlated subquery (ciphertext as base64); on SQLite, one precompiled SELECT per part
the case has.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    LargeBinary,
    Table,
    Uuid,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by

from app.cases.care_models import (
    Attachment,
    CareNote,
    CaseStatusChange,
    FollowUp,
    RiskAssessment,
    SafetyPlan,
)
from app.cases.legal_models import Complaint, ProtectionMeasure, complaint_incidents
from app.cases.models import Consent, Incident, Survivor
from app.crypto.models import DataKey
from app.directory.models import Institution

INSTITUTION_CODE = "_institution_code"
INSTITUTION_NAME = "_institution_name"


class Loaded(SimpleNamespace):
    """A row of a record, read-only: the model's column names as attributes."""


@dataclass(frozen=True)
class Part:
    name: str  # the attribute of Case
    table: Table
    order: str | None  # the relationship's order_by column
    institution: str | None = None  # the attribute that holds the institution
    institution_id: str | None = None  # ... and the column that points at it
    single: bool = False

    def institution_of(self, values: Mapping[str, Any]) -> Loaded | None:
        if self.institution_id is None:
            return None
        return Loaded(
            id=values[self.institution_id],
            code=values[INSTITUTION_CODE],
            name=values[INSTITUTION_NAME],
        )


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


def _by_institution(name: str, model: Any, order: str) -> Part:
    return Part(name, _table(model), order, "institution", "institution_id")


INCIDENTS = Part(
    "incidents", _table(Incident), "occurred_on", "entry_institution", "entry_institution_id"
)
CONSENTS = Part(
    "consents",
    _table(Consent),
    "recorded_at",
    "recorded_by_institution",
    "recorded_by_institution_id",
)
COMPLAINTS = _by_institution("complaints", Complaint, "filed_on")
MEASURES = _table(ProtectionMeasure)
ALWAYS = (INCIDENTS, CONSENTS)
OPTIONAL = (
    _by_institution("notes", CareNote, "given_on"),
    _by_institution("follow_ups", FollowUp, "due_on"),
    _by_institution("risk_assessments", RiskAssessment, "created_at"),
    Part("safety_plan", _table(SafetyPlan), None, single=True),
    _by_institution("attachments", Attachment, "created_at"),
    COMPLAINTS,
    _by_institution("status_changes", CaseStatusChange, "at"),
)
SURVIVOR = _table(Survivor)
DATA_KEY = _table(DataKey)
INSTITUTIONS = _table(Institution)


# ---- from JSON (PostgreSQL) --------------------------------------------------------------


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _bytea(value: str) -> bytes:
    return bytes.fromhex(value[2:])  # PostgreSQL writes bytea into JSON as "\\x…" hex


def _decoder(column: Column[Any]) -> Callable[[Any], Any] | None:
    kind = column.type
    if isinstance(kind, LargeBinary):
        return _bytea
    if isinstance(kind, Uuid):
        return uuid.UUID
    if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
        return _utc  # every time column is UTCDateTime: naive UTC in the database
    if isinstance(kind, Date):
        return date.fromisoformat
    return None


_DECODERS: dict[str, list[tuple[str, Callable[[Any], Any]]]] = {}


def _decoders(table: Table) -> list[tuple[str, Callable[[Any], Any]]]:
    found = _DECODERS.get(table.name)
    if found is None:
        found = _DECODERS[table.name] = [
            (c.key, decode) for c in table.columns if (decode := _decoder(c)) is not None
        ]
    return found


def decoded(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """A row of `table` as PostgreSQL's JSON gave it, each column back in its Python
    type (in place)."""
    for key, decode in _decoders(table):
        value = values.get(key)
        if value is not None:
            values[key] = decode(value)
    return values


# The parts are written as whole rows (`row_to_json` of the table's alias): the SQL
# stays short and has no parameter per column, which psycopg would parse every time.
ROW, CODE, NAME, MEASURE_ROWS, INCIDENT_IDS = "r", "c", "n", "m", "i"


def _key(name: str) -> Any:
    return literal_column(f"'{name}'")  # this module's constant keys, never input


def _whole_row(alias: Any) -> Any:
    return literal_column(alias.name)


def _row_object(part: Part, alias: Any) -> Any:
    pairs: list[Any] = [_key(ROW), _whole_row(alias)]
    if part.institution_id is not None:
        institution = INSTITUTIONS.alias(f"{alias.name}_institution")
        for key, column in ((CODE, institution.c.code), (NAME, institution.c.name)):
            pairs += [
                _key(key),
                select(column)
                .where(institution.c.id == alias.c[part.institution_id])
                .scalar_subquery(),
            ]
    if part is COMPLAINTS:
        measures = MEASURES.alias("part_measure_row")  # no column of the table is so named
        links = complaint_incidents.alias("part_complaint_link")
        pairs += [
            _key(MEASURE_ROWS),
            select(func.json_agg(aggregate_order_by(_whole_row(measures), measures.c.created_at)))
            .where(measures.c.complaint_id == alias.c.id)
            .scalar_subquery(),
            _key(INCIDENT_IDS),
            select(func.json_agg(links.c.incident_id))
            .where(links.c.complaint_id == alias.c.id)
            .scalar_subquery(),
        ]
    return func.json_build_object(*pairs)


def json_part(part: Part, case_id: Any) -> Any:
    """SQL (PostgreSQL): the case's rows of `part` as one JSON array, in the model's order
    (one object for a single part), or NULL when there are none."""
    alias = part.table.alias(f"part_{part.name}")
    row = _row_object(part, alias)
    if part.single or part.order is None:
        aggregated = row
    else:
        aggregated = func.json_agg(aggregate_order_by(row, alias.c[part.order]))
    return select(aggregated).where(alias.c.case_id == case_id).scalar_subquery()


def json_row(table: Table) -> Any:
    """SQL (PostgreSQL): the row of `table` in the statement's FROM, as JSON."""
    return func.row_to_json(literal_column(table.name))


def from_json(part: Part, value: Any) -> Any:
    if part.single:
        return None if value is None else _loaded(part, _from_json_row(part, value))
    return [_loaded(part, _from_json_row(part, item)) for item in value or ()]


def _from_json_row(part: Part, item: dict[str, Any]) -> dict[str, Any]:
    values = decoded(part.table, item[ROW])
    if part.institution_id is not None:
        values[INSTITUTION_CODE], values[INSTITUTION_NAME] = item[CODE], item[NAME]
    if part is COMPLAINTS:
        values["measures"] = [decoded(MEASURES, m) for m in item[MEASURE_ROWS] or ()]
        values["incident_ids"] = [uuid.UUID(i) for i in item[INCIDENT_IDS] or ()]
    return values


def _loaded(part: Part, values: dict[str, Any]) -> Loaded:
    institution = part.institution_of(values)
    values.pop(INSTITUTION_CODE, None)
    values.pop(INSTITUTION_NAME, None)
    if part.institution:
        values[part.institution] = institution
    if part is INCIDENTS:
        values["violence_types"] = values["violence_codes"].split()
    if part is COMPLAINTS:
        values["measures"] = [Loaded(**m) for m in values.get("measures") or ()]
        values["incident_ids"] = [Loaded(id=i) for i in values.get("incident_ids") or ()]
    return Loaded(**values)


# ---- from rows (SQLite) -------------------------------------------------------------------


_PART_SELECTS: dict[str, Any] = {}


def part_select(part: Part) -> Any:
    """SQL: the case's rows of `part` (`case_id` bound), each with its institution's
    code and name. Built once."""
    stmt = _PART_SELECTS.get(part.name)
    if stmt is None:
        stmt = _PART_SELECTS[part.name] = _build_part_select(part)
    return stmt


def _build_part_select(part: Part) -> Any:
    stmt = select(part.table).where(part.table.c.case_id == bindparam("case_id"))
    if part.institution_id is not None:
        stmt = stmt.join(
            INSTITUTIONS, INSTITUTIONS.c.id == part.table.c[part.institution_id]
        ).add_columns(
            INSTITUTIONS.c.code.label(INSTITUTION_CODE),
            INSTITUTIONS.c.name.label(INSTITUTION_NAME),
        )
    return stmt.order_by(part.table.c[part.order]) if part.order else stmt


MEASURES_SELECT = (
    select(MEASURES)
    .where(MEASURES.c.case_id == bindparam("case_id"))
    .order_by(MEASURES.c.created_at)
)
COMPLAINT_INCIDENTS_SELECT = (
    select(complaint_incidents.c.complaint_id, complaint_incidents.c.incident_id)
    .join(COMPLAINTS.table, COMPLAINTS.table.c.id == complaint_incidents.c.complaint_id)
    .where(COMPLAINTS.table.c.case_id == bindparam("case_id"))
)


def from_rows(part: Part, rows: Iterable[Any]) -> Any:
    loaded = [_loaded(part, dict(row._mapping)) for row in rows]
    if part.single:
        return loaded[0] if loaded else None
    return loaded


def attach_complaint_parts(
    complaints: list[Loaded], measures: Iterable[Any], links: Iterable[Any]
) -> None:
    """SQLite: the measures and incidents of each complaint, read apart."""
    by_id = {complaint.id: complaint for complaint in complaints}
    for complaint in complaints:
        complaint.measures, complaint.incident_ids = [], []
    for row in measures:
        by_id[row.complaint_id].measures.append(Loaded(**row._mapping))
    for row in links:
        by_id[row.complaint_id].incident_ids.append(Loaded(id=row.incident_id))


# ---- the case row ------------------------------------------------------------------------

SURVIVOR_PREFIX = "survivor__"
DATA_KEY_PREFIX = "data_key__"


def prefixed(table: Table, prefix: str) -> list[Any]:
    return [column.label(prefix + column.key) for column in table.columns]


def split_prefixed(values: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {key[len(prefix) :]: value for key, value in values.items() if key.startswith(prefix)}
