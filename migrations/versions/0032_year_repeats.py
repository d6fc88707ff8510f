"""the cases and women a year may count more than once by month: so that a year's
distinct counts are its months' counts less their overlap, found among these alone

A case enters `stat_repeats` for a year when it has a second incident dated in that
year; a statistics code enters `stat_shared_codes` when a second survivor holds it (two
records of one woman). Every other case and woman lies in one month of the year at
most, and adds nothing to the overlap. Both tables only grow: an entry that no longer
repeats costs the overlap a few rows more, never a wrong count. Writers wait on one
another here only over the same case or code.

Revision ID: 0032
Revises: 0031
"""

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

SQLITE_YEAR = "CAST(substr({day}, 1, 4) AS INTEGER)"
POSTGRESQL_YEAR = "CAST(EXTRACT(YEAR FROM {day}) AS integer)"

# {year} of the new row's date; the insert keeps quiet when the row is already there
REPEATED_CASE = (
    "INSERT INTO stat_repeats (year, case_id) SELECT {new_year}, NEW.case_id "
    "WHERE EXISTS (SELECT 1 FROM incidents other WHERE other.case_id = NEW.case_id "
    "AND other.id <> NEW.id AND {other_year} = {new_year})"
)
SHARED_CODE = (
    "INSERT INTO stat_shared_codes (stat_code) SELECT NEW.stat_code "
    "WHERE NEW.stat_code IS NOT NULL AND EXISTS (SELECT 1 FROM survivors other "
    "WHERE other.stat_code = NEW.stat_code AND other.id <> NEW.id)"
)
BACKFILL_REPEATS = (
    "INSERT INTO stat_repeats (year, case_id) SELECT {year}, case_id FROM incidents "
    "GROUP BY case_id, {year} HAVING count(*) > 1"
)
BACKFILL_CODES = (
    "INSERT INTO stat_shared_codes (stat_code) SELECT stat_code FROM survivors "
    "WHERE stat_code IS NOT NULL GROUP BY stat_code HAVING count(*) > 1"
)


def _repeated_case(year):
    return REPEATED_CASE.format(
        new_year=year.format(day="NEW.occurred_on"), other_year=year.format(day="other.occurred_on")
    )


def _postgresql():
    repeated = _repeated_case(POSTGRESQL_YEAR) + " ON CONFLICT DO NOTHING"
    shared = SHARED_CODE + " ON CONFLICT DO NOTHING"
    for table, body in (("incidents", repeated), ("survivors", shared)):
        op.execute(
            f"CREATE OR REPLACE FUNCTION ruta_stat_repeat_{table}() RETURNS trigger AS $$ "
            f"BEGIN {body}; RETURN NULL; END $$ LANGUAGE plpgsql"
        )
    op.execute(
        "CREATE TRIGGER stat_repeat_incidents AFTER INSERT OR UPDATE OF occurred_on, case_id "
        "ON incidents FOR EACH ROW EXECUTE FUNCTION ruta_stat_repeat_incidents()"
    )
    op.execute(
        "CREATE TRIGGER stat_repeat_survivors AFTER INSERT OR UPDATE OF stat_code "
        "ON survivors FOR EACH ROW EXECUTE FUNCTION ruta_stat_repeat_survivors()"
    )
    op.execute(BACKFILL_REPEATS.format(year=POSTGRESQL_YEAR.format(day="occurred_on")))


def _sqlite():
    repeated = _repeated_case(SQLITE_YEAR).replace("INSERT INTO", "INSERT OR IGNORE INTO")
    shared = SHARED_CODE.replace("INSERT INTO", "INSERT OR IGNORE INTO")
    for event, name in (("INSERT", "insert"), ("UPDATE OF occurred_on, case_id", "update")):
        op.execute(
            f"CREATE TRIGGER stat_repeat_incidents_{name} AFTER {event} ON incidents "
            f"BEGIN {repeated}; END"
        )
    for event, name in (("INSERT", "insert"), ("UPDATE OF stat_code", "update")):
        op.execute(
            f"CREATE TRIGGER stat_repeat_survivors_{name} AFTER {event} ON survivors "
            f"BEGIN {shared}; END"
        )
    op.execute(BACKFILL_REPEATS.format(year=SQLITE_YEAR.format(day="occurred_on")))


def upgrade():
    op.create_table(
        "stat_repeats",
        sa.Column("year", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Uuid(), primary_key=True),
    )
    op.create_table(
        "stat_shared_codes",
        sa.Column("stat_code", sa.String(16), primary_key=True),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql()
    else:
        _sqlite()
    op.execute(BACKFILL_CODES)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in ("incidents", "survivors"):
            op.execute(f"DROP TRIGGER IF EXISTS stat_repeat_{table} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS ruta_stat_repeat_{table}()")
    else:
        for table in ("incidents", "survivors"):
            for name in ("insert", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS stat_repeat_{table}_{name}")
    op.drop_table("stat_shared_codes")
    op.drop_table("stat_repeats")
