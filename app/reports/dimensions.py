"""What the statistics can count by: one SQL expression per dimension, over plain columns.

Nothing here reads a ciphertext column: every dimension is a plain code stored for
statistics (DOMAIN.md), so the counting happens in the database with GROUP BY.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, extract, func, literal_column

from app.cases.models import Case, Incident, Survivor, incident_violence_types
from app.cases.vocab import AGE_GROUPS, RELATIONSHIPS, SEXES, VIOLENCE_TYPES
from app.core.i18n import N_
from app.directory.models import District, Institution
from app.referrals.models import Referral
from app.reports.labels import (
    CONTEXTS,
    DAY_LIMITS,
    DAYS_TO_REPORT,
    GBVIMS_TYPES,
    INSTITUTION_KINDS,
    NONE,
    OVER_30,
    REFERRAL_OUTCOMES,
    UNKNOWN,
)

Expression = Callable[[str], Any]  # dialect name -> SQL expression


def _sql_text(value: str) -> Any:
    """A constant written into the SQL, not bound: PostgreSQL then sees the same
    expression in SELECT and GROUP BY (bound parameters would differ: $1 vs $2)."""
    return literal_column("'" + value.replace("'", "''") + "'")


def _month(dialect: str) -> Any:
    if dialect == "postgresql":
        return func.to_char(Incident.occurred_on, _sql_text("YYYY-MM"))
    return func.strftime(_sql_text("%Y-%m"), Incident.occurred_on)


def days_between(dialect: str, later: Any, earlier: Any) -> Any:
    """Whole or fractional days from `earlier` to `later` (dates or timestamps)."""
    if dialect == "postgresql":
        return extract("epoch", later - earlier) / 86400.0
    return func.julianday(later) - func.julianday(earlier)


def _days_to_report(dialect: str) -> Any:
    if dialect == "postgresql":
        days = Incident.reported_on - Incident.occurred_on  # date - date: integer days
    else:
        days = days_between(dialect, Incident.reported_on, Incident.occurred_on)
    return case(
        *[(days <= literal_column(str(limit)), _sql_text(code)) for limit, code in DAY_LIMITS],
        else_=_sql_text(OVER_30),
    )


def _coalesced(column: Any, fallback: str) -> Expression:
    return lambda _dialect: func.coalesce(column, _sql_text(fallback))


def _plain(column: Any) -> Expression:
    return lambda _dialect: column


@dataclass(frozen=True)
class Dimension:
    key: str
    label: str  # Spanish, as the API and the CSV say it; marked for the pages
    expression: Expression
    join: str | None = None
    order: tuple[str, ...] = ()  # a fixed order of values; otherwise by label
    multi: bool = False  # one incident may count under several values


def _join_violence(stmt: Select[Any]) -> Select[Any]:
    return stmt.join(incident_violence_types, incident_violence_types.c.incident_id == Incident.id)


def _join_survivor(stmt: Select[Any]) -> Select[Any]:
    return stmt.join(Survivor, Survivor.id == Case.survivor_id)


def _join_entry(stmt: Select[Any]) -> Select[Any]:
    return stmt.join(Institution, Institution.id == Incident.entry_institution_id)


def _join_place(stmt: Select[Any]) -> Select[Any]:
    # The incident's district (a foreign key: always there) carries its 2024 municipality
    # and department; one the map has not placed in a municipality counts as "unknown".
    return stmt.join(District, District.code == Incident.municipality)


def _join_referrals(stmt: Select[Any]) -> Select[Any]:
    # Outer: incidents of cases never referred count under "none".
    return stmt.outerjoin(Referral, Referral.case_id == Incident.case_id)


JOINS: dict[str, Callable[[Select[Any]], Select[Any]]] = {
    "violence": _join_violence,
    "survivor": _join_survivor,
    "entry": _join_entry,
    "place": _join_place,
    "referral": _join_referrals,
}

_DIMENSIONS = (
    Dimension("month", N_("Mes"), _month),
    # The territory of the incident (DOMAIN.md): the district is the former municipality,
    # the municipality one of the 44 of 2024.
    Dimension("district", N_("Distrito"), _plain(Incident.municipality)),
    Dimension(
        "municipality", N_("Municipio"), _coalesced(District.municipality_2024, UNKNOWN),
        join="place",
    ),
    Dimension("department", N_("Departamento"), _plain(District.department), join="place"),
    Dimension(
        "violence_type",
        N_("Tipo de violencia (LEIV)"),
        _plain(incident_violence_types.c.violence_type),
        join="violence",
        order=tuple(VIOLENCE_TYPES),
        multi=True,
    ),
    Dimension(
        "gbvims_type", N_("Tipo de violencia (GBVIMS)"), _plain(Incident.gbvims_type),
        order=tuple(GBVIMS_TYPES),
    ),
    Dimension(
        "age_group", N_("Grupo de edad"), _coalesced(Incident.age_group, UNKNOWN),
        order=(*(code for code, _, _ in AGE_GROUPS), UNKNOWN),
    ),
    Dimension("sex", N_("Sexo"), _plain(Survivor.sex), join="survivor", order=tuple(SEXES)),
    Dimension(
        "perpetrator_relationship", N_("Relación con el agresor"),
        _plain(Incident.perpetrator_relationship), order=tuple(RELATIONSHIPS),
    ),
    Dimension(
        "context", N_("Contexto"), _coalesced(Incident.context, NONE), order=tuple(CONTEXTS)
    ),
    Dimension(
        "entry_institution_kind", N_("Institución de entrada"), _plain(Institution.kind),
        join="entry", order=tuple(INSTITUTION_KINDS),
    ),
    Dimension(
        "referral_service", N_("Servicio de remisión"), _coalesced(Referral.service, NONE),
        join="referral", multi=True,
    ),
    Dimension(
        "referral_outcome", N_("Estado de la remisión"), _coalesced(Referral.status, NONE),
        join="referral", order=tuple(REFERRAL_OUTCOMES), multi=True,
    ),
    Dimension(
        "days_to_report", N_("Días del hecho a la denuncia"), _days_to_report,
        order=tuple(DAYS_TO_REPORT),
    ),
)  # fmt: skip

DIMENSIONS: dict[str, Dimension] = {dimension.key: dimension for dimension in _DIMENSIONS}
