"""audit head sealed with the audit key

Without it, someone with owner rights could cut the last events off the chain and
point the head at the new last event. The head's own HMAC, under the audit key that
never sits in the database, makes that detectable.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("head_mac", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("head_mac")
