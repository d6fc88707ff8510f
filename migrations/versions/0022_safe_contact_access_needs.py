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
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD/DROP COLUMN: a batch copy of `survivors` would break the cases' foreign key.
    op.add_column("survivors", sa.Column("contact_protocol_enc", sa.LargeBinary(), nullable=True))
    op.add_column("survivors", sa.Column("access_needs_enc", sa.LargeBinary(), nullable=True))


def downgrade():
    op.drop_column("survivors", "access_needs_enc")
    op.drop_column("survivors", "contact_protocol_enc")
