"""consent governs access: party access levels, join review, exclusions, who consented

Each live party now has an access level (`full` or `own_parts`, CONTRACT §5); joins
through a matched intake wait for a supervisor's review; a survivor may name
institutions that must never see her record (the aggressor works there); each consent
row says who gave it (she, or a guardian for a child).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("case_parties", schema=None) as batch_op:
        # Existing parties keep what they had: the whole record.
        batch_op.add_column(
            sa.Column("access", sa.String(length=10), nullable=False, server_default="full")
        )
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_by_user_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_case_parties_reviewed_by_user_id_users", "users", ["reviewed_by_user_id"], ["id"]
        )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("given_by", sa.String(length=10), nullable=True))
    op.create_table(
        "case_exclusions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by_user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_exclusions_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_case_exclusions_institution_id_institutions"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_user_id"],
            ["users.id"],
            name=op.f("fk_case_exclusions_recorded_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_exclusions")),
        sa.UniqueConstraint(
            "case_id", "institution_id", name="uq_case_exclusions_case_institution"
        ),
    )
    # A receiver now becomes a party when it accepts, not when the referral is sent.
    op.execute(
        "UPDATE case_parties SET ended_at = CURRENT_TIMESTAMP WHERE ended_at IS NULL "
        "AND referral_id IN (SELECT id FROM referrals WHERE status = 'sent')"
    )


def downgrade():
    op.drop_table("case_exclusions")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_column("given_by")
    with op.batch_alter_table("case_parties", schema=None) as batch_op:
        batch_op.drop_constraint("fk_case_parties_reviewed_by_user_id_users", type_="foreignkey")
        batch_op.drop_column("reviewed_by_user_id")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("access")
