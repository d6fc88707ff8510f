"""stored indicators: the months whose network indicators a write may have changed,
noted by triggers, and each month's generation

The indicators count referrals by the month they were sent, follow-ups by the month
they fell due, breaches by the month of the breach and rapes by the month they were
recorded (app/reports/indicators.py), and `current` for what holds now (open high-risk
cases and their measures in force). Each trigger notes those months of the rows a
write touches, in the writer's own transaction, as migration 0029 does for the counts.
A timestamp is kept in UTC and counted by its day in El Salvador (UTC-6): both the
month of its UTC day and of the day before are noted, which is never too few.

Revision ID: 0031
Revises: 0030
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def at(column, source=""):
    """The months of a UTC timestamp's local day: its UTC day's and the day before's."""
    return [("MONTH({})", column, source), ("MONTH_BEFORE({})", column, source)]


def on(column, source=""):
    """The month of a date."""
    return [("MONTH({})", column, source)]


def current():
    """What holds now, whatever the period (high-risk cases and their measures)."""
    return [("{}", "'current'", "")]


OF_THE_CASE = "FROM {table} WHERE case_id = {row}.{key}"


def case_rows(table, key="case_id"):
    return OF_THE_CASE.format(table=table, row="{row}", key=key)


# table: (events, months of the row {row} (NEW or OLD))
WATCHED = {
    "referrals": (
        "INSERT OR DELETE OR UPDATE OF service, status, to_institution_id, case_id, "
        "created_at, closed_at, due_on",
        # a completed medical referral is care inside the window of the case's rapes
        at("{row}.created_at")
        + at("created_at", case_rows("incidents") + " AND {row}.service = 'medical'"),
    ),
    "referral_events": (
        "INSERT OR DELETE OR UPDATE OF action, at, referral_id",
        at("created_at", "FROM referrals WHERE id = {row}.referral_id"),
    ),
    "follow_ups": ("INSERT OR DELETE OR UPDATE OF due_on, done_on, case_id", on("{row}.due_on")),
    "protection_measures": (
        "INSERT OR DELETE OR UPDATE OF breached_at, case_id, status",
        at("{row}.breached_at") + current(),
    ),
    # an assessment may be the first after any of the case's breaches
    "risk_assessments": (
        "INSERT OR DELETE OR UPDATE OF created_at, case_id",
        at("breached_at", case_rows("protection_measures")),
    ),
    "care_notes": (
        "INSERT OR DELETE OR UPDATE OF kind, given_on, case_id",
        at("created_at", case_rows("incidents")),
    ),
    "incidents": (
        "INSERT OR DELETE OR UPDATE OF gbvims_type, voided_at, created_at, occurred_on, case_id",
        at("{row}.created_at"),
    ),
    "cases": (
        "UPDATE OF consent_statistics, merged_into_id, risk_level, status",
        current()
        + at("created_at", case_rows("referrals", "id"))
        + on("due_on", case_rows("follow_ups", "id"))
        + at("breached_at", case_rows("protection_measures", "id"))
        + at("created_at", case_rows("incidents", "id")),
    ),
}

MONTHS = {
    "sqlite": {
        "{}": "{}",
        "MONTH({})": "strftime('%Y-%m', {})",
        "MONTH_BEFORE({})": "strftime('%Y-%m', {}, '-1 day')",
    },
    "postgresql": {
        "{}": "{}",
        "MONTH({})": "to_char({}, 'YYYY-MM')",
        "MONTH_BEFORE({})": "to_char({} - interval '1 day', 'YYYY-MM')",
    },
}


def _note(months, row, dialect):
    selects = " UNION ".join(
        f"SELECT {MONTHS[dialect][month].format(column.format(row=row))} AS month "
        f"{source.format(row=row)}"
        for month, column, source in months
    )
    # names from this file only, no input
    noted = f"SELECT month FROM ({selects}) AS noted WHERE month IS NOT NULL"  # noqa: S608
    return f"INSERT INTO indicator_changes (month) {noted}; "


def _sqlite_triggers(table, events, months):
    for event in events.split(" OR "):
        kind = event.split(" ")[0]
        rows = {"INSERT": ["NEW"], "DELETE": ["OLD"], "UPDATE": ["OLD", "NEW"]}[kind]
        body = "".join(_note(months, row, "sqlite") for row in rows)
        yield f"CREATE TRIGGER ind_{table}_{kind.lower()} AFTER {event} ON {table} BEGIN {body}END"


def _postgresql_function(table, months):
    return f"""
CREATE OR REPLACE FUNCTION ruta_ind_{table}() RETURNS trigger AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN {_note(months, "OLD", "postgresql")}END IF;
  IF TG_OP <> 'DELETE' THEN {_note(months, "NEW", "postgresql")}END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql"""


def upgrade():
    op.create_table(
        "indicator_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("month", sa.String(7), nullable=False),
    )
    op.create_table(
        "indicator_months",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("generation", sa.BigInteger(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table, (events, months) in WATCHED.items():
            op.execute(_postgresql_function(table, months))
            op.execute(
                f"CREATE TRIGGER ind_{table} AFTER {events} ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION ruta_ind_{table}()"
            )
        return
    for table, (events, months) in WATCHED.items():
        for trigger in _sqlite_triggers(table, events, months):
            op.execute(trigger)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS ind_{table} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS ruta_ind_{table}()")
    else:
        for table, (events, _months) in WATCHED.items():
            for event in events.split(" OR "):
                op.execute(f"DROP TRIGGER IF EXISTS ind_{table}_{event.split(' ')[0].lower()}")
    op.drop_table("indicator_months")
    op.drop_table("indicator_changes")
