"""her children and dependants: linked people with sealed names, the incidents they
were present at, the custody or maintenance measures and referrals that concern them

The 72-hour window needs no column: it is computed from the incident's date and the
time it was recorded (app/cases/rape_window.py).

Revision ID: 0027
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0025"
branch_labels = None
depends_on = None


def _fk(table, column, target):
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade():
    op.create_table(
        "dependants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("recorded_by_user_id", sa.Integer(), nullable=False),
        sa.Column("given_names_enc", sa.LargeBinary(), nullable=False),
        sa.Column("family_names_enc", sa.LargeBinary(), nullable=True),
        sa.Column("birth_year_enc", sa.LargeBinary(), nullable=True),
        sa.Column("age_group", sa.String(length=6), nullable=True),
        sa.Column("relationship_to_her", sa.String(length=10), nullable=False),
        sa.Column("lives_with_her", sa.Boolean(), nullable=True),
        sa.Column("witnessed_violence", sa.String(length=8), nullable=False),
        sa.Column("suffered_violence", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        _fk("dependants", "case_id", "cases"),
        _fk("dependants", "institution_id", "institutions"),
        _fk("dependants", "recorded_by_user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dependants")),
    )
    op.create_index(op.f("ix_dependants_case_id"), "dependants", ["case_id"], unique=False)
    op.create_table(
        "dependant_incidents",
        sa.Column("dependant_id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        _fk("dependant_incidents", "dependant_id", "dependants"),
        _fk("dependant_incidents", "incident_id", "incidents"),
        sa.PrimaryKeyConstraint(
            "dependant_id", "incident_id", name=op.f("pk_dependant_incidents")
        ),
    )
    # Plain ADD COLUMN, no foreign key: SQLite cannot rebuild tables others point at.
    for table in ("protection_measures", "referrals"):
        op.add_column(table, sa.Column("dependant_id", sa.Uuid(), nullable=True))
        op.create_index(op.f(f"ix_{table}_dependant_id"), table, ["dependant_id"], unique=False)


def downgrade():
    for table in ("referrals", "protection_measures"):
        op.drop_index(op.f(f"ix_{table}_dependant_id"), table_name=table)
        op.drop_column(table, "dependant_id")
    op.drop_table("dependant_incidents")
    op.drop_index(op.f("ix_dependants_case_id"), table_name="dependants")
    op.drop_table("dependants")
