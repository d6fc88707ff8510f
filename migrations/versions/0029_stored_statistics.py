"""stored statistics: each published query's counts kept with the generations of its
months, and the triggers that note which months a write may have changed

The triggers sit in the database so that no write path can forget them: the services,
the command line and bulk loads all go through them, in the writer's own transaction.
They only append (`stat_changes`), so writers never wait on one another here.

Revision ID: 0029
Revises: 0028
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

# The incident columns a count groups or filters by (app/reports/dimensions.py, stats.py).
INCIDENT_COLUMNS = (
    "occurred_on, reported_on, municipality, age_group, gbvims_type, "
    "perpetrator_relationship, context, entry_institution_id, voided_at, repeat_of_id, case_id"
)

# table: (events, months of the row {row} (NEW or OLD) as a SELECT of `MONTH(date)`)
WATCHED = {
    "incidents": (
        f"INSERT OR DELETE OR UPDATE OF {INCIDENT_COLUMNS}",
        [
            "SELECT MONTH({row}.occurred_on)",
            # a repeat counts in its original's place once the original is voided
            "SELECT MONTH(occurred_on) FROM incidents WHERE repeat_of_id = {row}.id",
        ],
    ),
    "incident_violence_types": (
        "INSERT OR DELETE",
        ["SELECT MONTH(occurred_on) FROM incidents WHERE id = {row}.incident_id"],
    ),
    "cases": (
        "UPDATE OF consent_statistics, survivor_id",
        ["SELECT MONTH(occurred_on) FROM incidents WHERE case_id = {row}.id"],
    ),
    "survivors": (
        "UPDATE OF sex, stat_code",
        [
            "SELECT MONTH(i.occurred_on) FROM incidents i JOIN cases c ON c.id = i.case_id "
            "WHERE c.survivor_id = {row}.id"
        ],
    ),
    "referrals": (
        "INSERT OR DELETE OR UPDATE OF service, status, case_id",
        ["SELECT MONTH(occurred_on) FROM incidents WHERE case_id = {row}.case_id"],
    ),
    "municipalities": (
        "UPDATE OF municipality_2024, department",
        ["SELECT MONTH(occurred_on) FROM incidents WHERE municipality = {row}.code"],
    ),
    "institutions": (
        "UPDATE OF kind",
        ["SELECT MONTH(occurred_on) FROM incidents WHERE entry_institution_id = {row}.id"],
    ),
}


MONTH = re.compile(r"MONTH\(([^)]+)\)")
SQLITE_MONTH = r"substr(\1, 1, 7)"  # SQLite keeps dates as YYYY-MM-DD text
POSTGRESQL_MONTH = r"ruta_stat_month(\1)"


def _inserts(selects, row, month):
    return "".join(
        f"INSERT INTO stat_changes (month) {MONTH.sub(month, select.format(row=row))}; "
        for select in selects
    )


def _sqlite_triggers(table, events, selects):
    for event in events.split(" OR "):
        kind = event.split(" ")[0]
        rows = {"INSERT": ["NEW"], "DELETE": ["OLD"], "UPDATE": ["OLD", "NEW"]}[kind]
        body = "".join(_inserts(selects, row, SQLITE_MONTH) for row in rows)
        yield (
            f"CREATE TRIGGER stat_{table}_{kind.lower()} AFTER {event} ON {table} BEGIN {body}END"
        )


def _postgresql_function(table, selects):
    month = POSTGRESQL_MONTH
    return f"""
CREATE OR REPLACE FUNCTION ruta_stat_{table}() RETURNS trigger AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN {_inserts(selects, "OLD", month)}END IF;
  IF TG_OP <> 'DELETE' THEN {_inserts(selects, "NEW", month)}END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql"""


def upgrade():
    op.create_table(
        "stat_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("month", sa.String(7), nullable=False),
    )
    op.create_table(
        "stat_months",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("generation", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "stat_counts",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("generations", sa.String(120), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION ruta_stat_month(day date) RETURNS text "
            "LANGUAGE sql IMMUTABLE AS $$ SELECT to_char(day, 'YYYY-MM') $$"
        )
        for table, (events, selects) in WATCHED.items():
            op.execute(_postgresql_function(table, selects))
            op.execute(
                f"CREATE TRIGGER stat_{table} AFTER {events} ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION ruta_stat_{table}()"
            )
        return
    for table, (events, selects) in WATCHED.items():
        for trigger in _sqlite_triggers(table, events, selects):
            op.execute(trigger)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS stat_{table} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS ruta_stat_{table}()")
        op.execute("DROP FUNCTION IF EXISTS ruta_stat_month(date)")
    else:
        for table, (events, _selects) in WATCHED.items():
            for event in events.split(" OR "):
                op.execute(f"DROP TRIGGER IF EXISTS stat_{table}_{event.split(' ')[0].lower()}")
    op.drop_table("stat_counts")
    op.drop_table("stat_months")
    op.drop_table("stat_changes")
