"""work list indexes: her institution's cases, their responsible and next contact,
each read from an index alone; the task list's recent rapes

The work list reads every case an institution is a party to (10,000 of a million,
say) to sort them and count its tabs. With these indexes each of those reads is an
index-only lookup (measured with bench/work_list.py): the live party rows of the
institution; the case's merge, activity, status, risk, number and survivor; its
responsible there; its pending follow-ups; her municipality. The two partial indexes hold only the
live or pending rows, and name the column of their condition too: SQLite reads an index
alone only when it holds every column the query names.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# (index, table, columns, the rows it holds or None for all)
INDEXES = (
    (
        "ix_case_parties_live_institution",
        "case_parties",
        ["institution_id", "case_id", "access", "ended_at"],
        "ended_at IS NULL",
    ),
    (
        "ix_cases_work_list",
        "cases",
        ["id", "merged_into_id", "updated_at", "status", "risk_level", "number", "survivor_id"],
        None,
    ),
    (
        "ix_case_assignments_institution_case",
        "case_assignments",
        ["institution_id", "case_id", "user_id"],
        None,
    ),
    ("ix_survivors_work_list", "survivors", ["id", "municipality"], None),
    # The task list: rapes recorded in the last 72 hours, network-wide a handful.
    ("ix_incidents_type_recorded", "incidents", ["gbvims_type", "created_at"], None),
    (
        "ix_follow_ups_pending",
        "follow_ups",
        ["institution_id", "case_id", "due_on", "done_on"],
        "done_on IS NULL",
    ),
)


def upgrade():
    # Plain CREATE INDEX (no batch copy): SQLite cannot rebuild tables others point at.
    for name, table, columns, rows in INDEXES:
        where = {}
        if rows is not None:
            where = {"postgresql_where": sa.text(rows), "sqlite_where": sa.text(rows)}
        op.create_index(name, table, columns, unique=False, **where)


def downgrade():
    for name, table, _columns, _rows in reversed(INDEXES):
        op.drop_index(name, table_name=table)
