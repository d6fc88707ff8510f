"""incident strangulation: kept with the incident, so that a reassessment of her risk
(and the record) still knows she was strangled, choked or suffocated

Until now the intake's strangulation mark raised the case to high at once and was then
forgotten: a later assessment could score the case down as if it had never happened.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("incidents", sa.Column("strangulation", sa.Boolean(), nullable=True))


def downgrade():
    op.drop_column("incidents", "strangulation")
