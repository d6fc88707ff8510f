"""safe contact and access needs: her contact protocol and her language, interpreter,
literacy and disability needs, each a JSON document sealed under the case key

The free-text `safe_contact_enc` stays: what was written there is still read, beside
the protocol.

Revision ID: 0022
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("survivors") as batch:
        batch.add_column(sa.Column("contact_protocol_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("access_needs_enc", sa.LargeBinary(), nullable=True))


def downgrade():
    with op.batch_alter_table("survivors") as batch:
        batch.drop_column("access_needs_enc")
        batch.drop_column("contact_protocol_enc")
