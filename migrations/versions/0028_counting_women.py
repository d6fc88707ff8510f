"""counting women: the survivor's pseudonymous statistics code, repeat reports of the
same event, and the LEIV art. 10 modality of an incident

`stat_code` is filled by `flask --app wsgi keys statistics-codes` (it needs the key
file); until then the counts of women count each such survivor by her case.

Revision ID: 0028
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD/DROP COLUMN: a batch copy of `survivors` would break the cases' foreign key.
    op.add_column("survivors", sa.Column("stat_code", sa.String(16), nullable=True))
    op.add_column("survivors", sa.Column("stat_key_id", sa.String(16), nullable=True))
    op.create_index("ix_survivors_stat_code", "survivors", ["stat_code"])
    op.create_index("ix_survivors_stat_key_id", "survivors", ["stat_key_id"])
    op.add_column("incidents", sa.Column("repeat_of_id", sa.Uuid(), nullable=True))
    op.add_column("incidents", sa.Column("modality", sa.String(16), nullable=True))
    op.create_index("ix_incidents_repeat_of_id", "incidents", ["repeat_of_id"])


def downgrade():
    op.drop_index("ix_incidents_repeat_of_id", table_name="incidents")
    op.drop_column("incidents", "modality")
    op.drop_column("incidents", "repeat_of_id")
    op.drop_index("ix_survivors_stat_key_id", table_name="survivors")
    op.drop_index("ix_survivors_stat_code", table_name="survivors")
    op.drop_column("survivors", "stat_key_id")
    op.drop_column("survivors", "stat_code")
