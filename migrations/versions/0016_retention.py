"""retention: when a case closed, its legal hold, when it was purged; her erasure
requests; the retention cohorts whose keys (only in the key file) wrap closed cases' keys

`closed_at` of the cases closed before this migration comes from their last status
change to closed. Their data keys stay under the KEK until the first `records purge`
moves them into their closing month's cohort (docs/retention.md). The indexes that the
work list and the name search read alone get `purged_at`, which they now filter on.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

CASE_COLUMNS = (
    ("closed_at", sa.DateTime()),
    ("legal_hold_at", sa.DateTime()),
    ("legal_hold_by_user_id", sa.Integer()),
    ("legal_hold_reason_enc", sa.LargeBinary()),
    ("purged_at", sa.DateTime()),
)
WORK_LIST = ["id", "merged_into_id", "updated_at", "status", "risk_level", "number"]
INDEXES = (
    ("ix_cases_work_list", [*WORK_LIST, "survivor_id"], [*WORK_LIST, "survivor_id", "purged_at"]),
    (
        "ix_cases_id_survivor",
        ["id", "merged_into_id", "survivor_id"],
        ["id", "merged_into_id", "survivor_id", "purged_at"],
    ),
    (
        "ix_cases_survivor_id",
        ["survivor_id", "merged_into_id", "id"],
        ["survivor_id", "merged_into_id", "id", "purged_at"],
    ),
)


def _fk(table, column, target):
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade():
    for name, column_type in CASE_COLUMNS:
        op.add_column("cases", sa.Column(name, column_type, nullable=True))
    op.execute(
        "UPDATE cases SET closed_at = COALESCE((SELECT MAX(c.at) FROM case_status_changes c "
        "WHERE c.case_id = cases.id AND c.to_status = 'closed'), cases.updated_at) "
        "WHERE status = 'closed'"
    )
    for name, _old, new in INDEXES:
        op.drop_index(name, table_name="cases")
        op.create_index(name, "cases", new, unique=False)
    op.create_table(
        "retention_cohorts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_cohorts")),
    )
    op.create_index(
        "ix_retention_cohorts_month", "retention_cohorts", ["month", "destroyed_at"], unique=False
    )
    op.create_table(
        "erasure_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("legal_basis", sa.String(length=24), nullable=False),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_institution_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("carried_out_at", sa.DateTime(), nullable=True),
        _fk("erasure_requests", "case_id", "cases"),
        _fk("erasure_requests", "requested_by_user_id", "users"),
        _fk("erasure_requests", "requested_by_institution_id", "institutions"),
        _fk("erasure_requests", "decided_by_user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_requests")),
    )
    for column in ("case_id", "status"):
        op.create_index(
            op.f(f"ix_erasure_requests_{column}"), "erasure_requests", [column], unique=False
        )


def downgrade():
    for column in ("status", "case_id"):
        op.drop_index(op.f(f"ix_erasure_requests_{column}"), table_name="erasure_requests")
    op.drop_table("erasure_requests")
    op.drop_index("ix_retention_cohorts_month", table_name="retention_cohorts")
    op.drop_table("retention_cohorts")
    for name, old, _new in reversed(INDEXES):
        op.drop_index(name, table_name="cases")
        op.create_index(name, "cases", old, unique=False)
    for name, _column_type in reversed(CASE_COLUMNS):
        op.drop_column("cases", name)
