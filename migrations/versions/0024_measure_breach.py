"""protection measures: when and by whom a breach was recorded, and when the expiry
notice went out (issue 13, the breach fast lane)

Revision ID: 0024
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch copy), as in 0009: who recorded it is kept without a
    # foreign key, so that SQLite never has to rebuild the table.
    op.add_column("protection_measures", sa.Column("breached_at", sa.DateTime(), nullable=True))
    op.add_column("protection_measures", sa.Column("breached_by", sa.Integer(), nullable=True))
    op.add_column(
        "protection_measures", sa.Column("expiry_notified_at", sa.DateTime(), nullable=True)
    )
    op.create_index(
        "ix_protection_measures_breached_at", "protection_measures", ["breached_at"], unique=False
    )


def downgrade():
    op.drop_index("ix_protection_measures_breached_at", table_name="protection_measures")
    op.drop_column("protection_measures", "expiry_notified_at")
    op.drop_column("protection_measures", "breached_by")
    op.drop_column("protection_measures", "breached_at")
