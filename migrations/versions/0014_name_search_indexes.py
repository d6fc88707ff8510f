"""name search indexes: from a case to her survivor, and from a survivor to her case,
each read from an index alone

The partial-name search (app/cases/access.py `visible_name_candidates`) joins the name
tokens to the cases the caller may see, in one direction or the other (docs/search.md).
Without these, each of up to 10,000 steps reads the case row itself for `survivor_id`
(or `id` and `merged_into_id`): measured with bench/search.py --partial-name.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_cases_id_survivor", ["id", "merged_into_id", "survivor_id"]),
    ("ix_cases_survivor_id", ["survivor_id", "merged_into_id", "id"]),
)


def upgrade():
    for name, columns in INDEXES:
        op.create_index(name, "cases", columns, unique=False)


def downgrade():
    for name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name="cases")
