"""form stashes: a failed form and a slip's PIN, sealed, for the next page only

The case page's forms now answer a post with a redirect (post/redirect/get). What a
refused form carried (her words, the errors) has to reach the page after the redirect
without being written anywhere in clear: not in the cookie (Flask's session cookie is
signed, not encrypted) and not in a table. `form_stashes` holds it sealed with AES-GCM
under a key derived from the active KEK (never a case key), bound to the user, her
session and the case, deleted when read and gone after 15 minutes. The survivor's slip
passes its code and PIN the same way, so that the PIN is shown once, by a GET.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

TABLE = "form_stashes"


def upgrade():
    op.create_table(
        TABLE,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("user_session_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("kek_id", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_form_stashes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_stashes")),
    )
    for column in ("user_id", "expires_at"):
        op.create_index(op.f(f"ix_{TABLE}_{column}"), TABLE, [column], unique=False)


def downgrade():
    for column in ("user_id", "expires_at"):
        op.drop_index(op.f(f"ix_{TABLE}_{column}"), table_name=TABLE)
    op.drop_table(TABLE)
