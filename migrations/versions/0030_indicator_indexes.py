"""indicator indexes: the network indicators read referrals by the day they were sent,
open high-risk cases and their measures in force, each from an index alone

Revision ID: 0030
Revises: 0029
"""

from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_referrals_sent_statistics": (
        "referrals",
        [
            *("created_at", "case_id", "service", "to_institution_id", "status", "due_on"),
            *("closed_at", "id"),
        ],
    ),
    "ix_cases_risk_statistics": (
        "cases",
        ["risk_level", "consent_statistics", "merged_into_id", "status", "id"],
    ),
    "ix_protection_measures_case_status": ("protection_measures", ["case_id", "status"]),
}


def upgrade():
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's planner weighs an index by its statistics: without them it may keep
        # reading the referrals of every case with consent (nearly all of them).
        for name in INDEXES:
            op.execute(f"ANALYZE {name}")


def downgrade():
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
