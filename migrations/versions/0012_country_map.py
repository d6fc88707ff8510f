"""the country's map of 2024: departments, the 44 municipalities, and the districts

Since 1 May 2024 (Decreto 762) the 262 former municipalities are districts of 44 new
municipalities. `municipalities` stays the districts' table, with its codes, so every
foreign key of survivors, incidents and institutions stays valid; it gains the code of
its 2024 municipality and its aliases, and `department` holds a department's code once
`catalogue load` has run (this migration adds no rows: the map is data, in
app/directory/data/territory_2024.csv). `departments` carries each department's
case-number prefix (SON-2026-000123).

The columns are added in place, without a foreign key: SQLite cannot rebuild a table
that others point at while foreign keys are on (see 0007).

Revision ID: 0012
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "departments",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("case_prefix", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_departments")),
        sa.UniqueConstraint("case_prefix", name=op.f("uq_departments_case_prefix")),
    )
    op.create_table(
        "municipalities_2024",
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("department_code", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name=op.f("fk_municipalities_2024_department_code_departments"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_municipalities_2024")),
    )
    op.create_index(
        op.f("ix_municipalities_2024_department_code"),
        "municipalities_2024",
        ["department_code"],
        unique=False,
    )
    op.add_column(
        "municipalities", sa.Column("municipality_2024", sa.String(length=20), nullable=True)
    )
    op.add_column("municipalities", sa.Column("aliases", sa.String(length=200), nullable=True))
    op.create_index(
        op.f("ix_municipalities_municipality_2024"),
        "municipalities",
        ["municipality_2024"],
        unique=False,
    )


def downgrade():
    # The districts' department goes back to the name the older code wrote ("Sonsonate").
    op.execute(
        "UPDATE municipalities SET department = "
        "(SELECT d.name FROM departments d WHERE d.code = municipalities.department) "
        "WHERE department IN (SELECT code FROM departments)"
    )
    op.drop_index(op.f("ix_municipalities_municipality_2024"), table_name="municipalities")
    op.drop_column("municipalities", "aliases")
    op.drop_column("municipalities", "municipality_2024")
    op.drop_index(
        op.f("ix_municipalities_2024_department_code"), table_name="municipalities_2024"
    )
    op.drop_table("municipalities_2024")
    op.drop_table("departments")
