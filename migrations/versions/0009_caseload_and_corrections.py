"""the caseload and the record's life: assignments, leads, corrections, voiding, merges,
phone and name-token blind indexes, versions for corrections, the risk level's reasons

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _fk(table, column, target):
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade():
    # Plain ADD COLUMN (no batch copy): SQLite cannot rebuild tables others point at.
    # Who voided or merged is kept without a foreign key for the same reason.
    op.add_column(
        "users", sa.Column("lead", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("survivors", sa.Column("phone_bidx", sa.String(length=32), nullable=True))
    op.add_column(
        "survivors", sa.Column("version", sa.Integer(), nullable=False, server_default="1")
    )
    op.create_index(op.f("ix_survivors_phone_bidx"), "survivors", ["phone_bidx"], unique=False)
    op.add_column("cases", sa.Column("merged_into_id", sa.Uuid(), nullable=True))
    op.add_column("incidents", sa.Column("voided_at", sa.DateTime(), nullable=True))
    op.add_column("incidents", sa.Column("voided_by_user_id", sa.Integer(), nullable=True))
    op.add_column("incidents", sa.Column("void_reason_enc", sa.LargeBinary(), nullable=True))
    op.add_column(
        "incidents", sa.Column("version", sa.Integer(), nullable=False, server_default="1")
    )
    op.add_column(
        "complaints", sa.Column("version", sa.Integer(), nullable=False, server_default="1")
    )
    op.add_column("risk_assessments", sa.Column("reasons", sa.String(length=160), nullable=True))
    op.add_column(
        "risk_assessments", sa.Column("lowering_reason_enc", sa.LargeBinary(), nullable=True)
    )

    op.create_table(
        "case_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(), nullable=False),
        sa.Column("assigned_by_user_id", sa.Integer(), nullable=True),
        _fk("case_assignments", "case_id", "cases"),
        _fk("case_assignments", "institution_id", "institutions"),
        _fk("case_assignments", "user_id", "users"),
        _fk("case_assignments", "assigned_by_user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_assignments")),
        sa.UniqueConstraint(
            "case_id", "institution_id", name="uq_case_assignments_case_institution"
        ),
    )
    op.create_index(
        "ix_case_assignments_institution_user",
        "case_assignments",
        ["institution_id", "user_id"],
        unique=False,
    )
    # Each live party starts with the worker who brought the case in: the one who
    # opened it, or who added the party (an accepted referral, a join).
    op.execute(
        "INSERT INTO case_assignments (case_id, institution_id, user_id, assigned_at) "
        "SELECT p.case_id, p.institution_id, MIN(COALESCE(p.added_by_user_id, "
        "CASE WHEN c.opened_by_institution_id = p.institution_id "
        "THEN c.opened_by_user_id END)), MIN(p.since) "
        "FROM case_parties p JOIN cases c ON c.id = p.case_id "
        "WHERE p.ended_at IS NULL GROUP BY p.case_id, p.institution_id"
    )

    op.create_table(
        "corrections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("object_type", sa.String(length=20), nullable=False),
        sa.Column("object_id", sa.String(length=36), nullable=False),
        sa.Column("fields", sa.String(length=300), nullable=False),
        sa.Column("changes_enc", sa.LargeBinary(), nullable=False),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        _fk("corrections", "case_id", "cases"),
        _fk("corrections", "user_id", "users"),
        _fk("corrections", "institution_id", "institutions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corrections")),
    )
    op.create_index(op.f("ix_corrections_case_id"), "corrections", ["case_id"], unique=False)

    op.create_table(
        "case_merges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("surviving_case_id", sa.Uuid(), nullable=False),
        sa.Column("absorbed_case_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_institution_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("moved", sa.Text(), nullable=True),
        sa.Column("reverted_at", sa.DateTime(), nullable=True),
        sa.Column("reverted_by_user_id", sa.Integer(), nullable=True),
        _fk("case_merges", "surviving_case_id", "cases"),
        _fk("case_merges", "absorbed_case_id", "cases"),
        _fk("case_merges", "requested_by_user_id", "users"),
        _fk("case_merges", "requested_by_institution_id", "institutions"),
        _fk("case_merges", "decided_by_user_id", "users"),
        _fk("case_merges", "reverted_by_user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_merges")),
    )
    for column in ("surviving_case_id", "absorbed_case_id", "status"):
        op.create_index(op.f(f"ix_case_merges_{column}"), "case_merges", [column], unique=False)

    op.create_table(
        "survivor_name_tokens",
        sa.Column("survivor_id", sa.Uuid(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        _fk("survivor_name_tokens", "survivor_id", "survivors"),
        sa.PrimaryKeyConstraint("survivor_id", "token", name=op.f("pk_survivor_name_tokens")),
    )
    op.create_index(
        "ix_survivor_name_tokens_token",
        "survivor_name_tokens",
        ["token", "survivor_id"],
        unique=False,
    )


def downgrade():
    op.drop_index("ix_survivor_name_tokens_token", table_name="survivor_name_tokens")
    op.drop_table("survivor_name_tokens")
    for column in ("surviving_case_id", "absorbed_case_id", "status"):
        op.drop_index(op.f(f"ix_case_merges_{column}"), table_name="case_merges")
    op.drop_table("case_merges")
    op.drop_index(op.f("ix_corrections_case_id"), table_name="corrections")
    op.drop_table("corrections")
    op.drop_index("ix_case_assignments_institution_user", table_name="case_assignments")
    op.drop_table("case_assignments")
    op.drop_column("risk_assessments", "lowering_reason_enc")
    op.drop_column("risk_assessments", "reasons")
    op.drop_column("complaints", "version")
    for column in ("version", "void_reason_enc", "voided_by_user_id", "voided_at"):
        op.drop_column("incidents", column)
    op.drop_column("cases", "merged_into_id")
    op.drop_index(op.f("ix_survivors_phone_bidx"), table_name="survivors")
    op.drop_column("survivors", "version")
    op.drop_column("survivors", "phone_bidx")
    op.drop_column("users", "lead")
