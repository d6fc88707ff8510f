"""aggressors: the aggressor as a record of his own (sealed identity, blind indexes of
purposes of their own, plain codes for statistics); measures name the one they are against

Revision ID: 0026
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0024"
branch_labels = None
depends_on = None

SEALED = ("given_names", "family_names", "dui", "birth_date", "alias", "notes")
INDEXED = ("case_id", "incident_id", "dui_bidx", "name_dob_bidx", "index_key_id")


def _fk(column, target):
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_aggressors_{column}_{target}")
    )


def upgrade():
    op.create_table(
        "aggressors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("recorded_by_user_id", sa.Integer(), nullable=False),
        *(sa.Column(f"{name}_enc", sa.LargeBinary(), nullable=True) for name in SEALED),
        sa.Column("dui_bidx", sa.String(length=32), nullable=True),
        sa.Column("name_dob_bidx", sa.String(length=32), nullable=True),
        sa.Column("index_key_id", sa.String(length=16), nullable=True),
        sa.Column("indexed_at", sa.DateTime(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("age_group", sa.String(length=6), nullable=True),
        sa.Column("relationship", sa.String(length=20), nullable=False),
        sa.Column("lives_with_her", sa.Boolean(), nullable=True),
        sa.Column("has_firearm", sa.Boolean(), nullable=True),
        sa.Column("firearm_licence", sa.Boolean(), nullable=True),
        sa.Column("previous_complaints", sa.String(length=8), nullable=False),
        sa.Column("works_at_institution_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        _fk("case_id", "cases"),
        _fk("incident_id", "incidents"),
        _fk("institution_id", "institutions"),
        _fk("recorded_by_user_id", "users"),
        _fk("works_at_institution_id", "institutions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aggressors")),
    )
    for column in INDEXED:
        op.create_index(op.f(f"ix_aggressors_{column}"), "aggressors", [column], unique=False)
    # Plain ADD COLUMN: a batch copy of a table others point at would break their keys.
    op.add_column("protection_measures", sa.Column("aggressor_id", sa.Uuid(), nullable=True))


def downgrade():
    op.drop_column("protection_measures", "aggressor_id")
    for column in reversed(INDEXED):
        op.drop_index(op.f(f"ix_aggressors_{column}"), table_name="aggressors")
    op.drop_table("aggressors")
