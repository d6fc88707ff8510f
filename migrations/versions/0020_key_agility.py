"""key agility: which index key made a survivor's indexes, which audit key an event,
a link and the sealed head

`keys rotate-index` recomputes every survivor's blind indexes under a new index key;
`survivors.index_key_id` says which key made them, so an interrupted rotation goes on
where it stopped and the old key is retired only when no row needs it. `keys
rotate-audit` makes a new audit key sign from a switch event on; each event, link and
the head name the key they were made with. NULL: made before this migration, with the
first key (docs/security.md, "Replacing keys").

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

COLUMNS = (
    ("survivors", "index_key_id"),
    ("audit_events", "key_id"),
    ("audit_links", "key_id"),
    ("audit_head", "key_id"),
)


def upgrade():
    for table, column in COLUMNS:
        op.add_column(table, sa.Column(column, sa.String(length=16), nullable=True))
    op.create_index("ix_survivors_index_key_id", "survivors", ["index_key_id"])


def downgrade():
    # A plain DROP COLUMN (SQLite 3.35+): no copy of the table, so the audit tables keep
    # their append-only triggers.
    op.drop_index("ix_survivors_index_key_id", table_name="survivors")
    for table, column in reversed(COLUMNS):
        op.drop_column(table, column)
