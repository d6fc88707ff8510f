"""justice pathway: the complaint's moves (its history), the FGR and court file numbers
(sealed), hearings, and her choice to read her next hearing in the status lookup

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0026"
branch_labels = None
depends_on = None

NUMBER_COLUMNS = ("fgr_number_enc", "court_number_enc")


def _fk(table, column, target):
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def _index(table, column):
    op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def upgrade():
    # Plain ADD COLUMN: a batch copy of `complaints` would break the foreign keys to it.
    for name in NUMBER_COLUMNS:
        op.add_column("complaints", sa.Column(name, sa.LargeBinary(), nullable=True))
    op.create_table(
        "complaint_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("moved_on", sa.Date(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        _fk("complaint_moves", "complaint_id", "complaints"),
        _fk("complaint_moves", "case_id", "cases"),
        _fk("complaint_moves", "user_id", "users"),
        _fk("complaint_moves", "institution_id", "institutions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_moves")),
    )
    _index("complaint_moves", "complaint_id")
    _index("complaint_moves", "case_id")
    op.create_table(
        "hearings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("complaint_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("court_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=True),
        sa.Column("note_enc", sa.LargeBinary(), nullable=True),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _fk("hearings", "complaint_id", "complaints"),
        _fk("hearings", "case_id", "cases"),
        sa.ForeignKeyConstraint(
            ["court_id"], ["institutions.id"], name=op.f("fk_hearings_court_id_institutions")
        ),
        _fk("hearings", "institution_id", "institutions"),
        _fk("hearings", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hearings")),
    )
    for column in ("complaint_id", "case_id", "starts_at"):
        _index("hearings", column)
    op.create_table(
        "hearing_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("show_hearings_in_status", sa.Boolean(), nullable=False),
        sa.Column("given_by", sa.String(length=10), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by_user_id", sa.Integer(), nullable=False),
        sa.Column("recorded_by_institution_id", sa.Integer(), nullable=False),
        _fk("hearing_notices", "case_id", "cases"),
        _fk("hearing_notices", "recorded_by_user_id", "users"),
        _fk("hearing_notices", "recorded_by_institution_id", "institutions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hearing_notices")),
    )
    _index("hearing_notices", "case_id")


def downgrade():
    op.drop_index(op.f("ix_hearing_notices_case_id"), table_name="hearing_notices")
    op.drop_table("hearing_notices")
    for column in ("starts_at", "case_id", "complaint_id"):
        op.drop_index(op.f(f"ix_hearings_{column}"), table_name="hearings")
    op.drop_table("hearings")
    for column in ("case_id", "complaint_id"):
        op.drop_index(op.f(f"ix_complaint_moves_{column}"), table_name="complaint_moves")
    op.drop_table("complaint_moves")
    for name in reversed(NUMBER_COLUMNS):
        op.drop_column("complaints", name)
