"""the lead institution of a case and the transfers of it (issue 13, item 3)

`cases.lead_institution_id` is the institution that coordinates her care; every case
opened before this migration is led by the institution that opened it. `case_transfers`
hands the lead to another institution (requested → accepted | declined | cancelled); at
most one is pending per case, which a partial unique index keeps true under a race.

Revision ID: 0025
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0023"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'requested'")


def _fk(table, column, target):
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade():
    # Plain ADD COLUMN without a foreign key: SQLite cannot rebuild `cases`, which many
    # tables point at (as for merged_into_id, 0009).
    op.add_column("cases", sa.Column("lead_institution_id", sa.Integer(), nullable=True))
    op.execute("UPDATE cases SET lead_institution_id = opened_by_institution_id")
    op.create_table(
        "case_transfers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("from_institution_id", sa.Integer(), nullable=False),
        sa.Column("to_institution_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("note_enc", sa.LargeBinary(), nullable=True),
        sa.Column("decline_reason_enc", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("target_was_party", sa.Boolean(), nullable=False),
        sa.Column("mandatory_report", sa.Boolean(), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("answered_by_user_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _fk("case_transfers", "case_id", "cases"),
        _fk("case_transfers", "from_institution_id", "institutions"),
        _fk("case_transfers", "to_institution_id", "institutions"),
        _fk("case_transfers", "requested_by_user_id", "users"),
        _fk("case_transfers", "answered_by_user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_transfers")),
    )
    op.create_index(
        "ix_case_transfers_to_status", "case_transfers", ["to_institution_id", "status"]
    )
    op.create_index(
        "ix_case_transfers_from_status", "case_transfers", ["from_institution_id", "status"]
    )
    op.create_index(
        "uq_case_transfers_one_pending",
        "case_transfers",
        ["case_id"],
        unique=True,
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )


def downgrade():
    op.drop_index("uq_case_transfers_one_pending", table_name="case_transfers")
    op.drop_index("ix_case_transfers_from_status", table_name="case_transfers")
    op.drop_index("ix_case_transfers_to_status", table_name="case_transfers")
    op.drop_table("case_transfers")
    op.drop_column("cases", "lead_institution_id")
