"""statistics indexes: covering indexes for the observatory's counts and indicators

The counts join every incident of the period to its case's consent and to its
violence types; with these indexes each join is answered from an index alone
(measured with bench/stats.py at 100,000 incidents).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 02:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# (index, table, columns)
INDEXES = (
    # Incidents of a period (and place), with what the join to cases needs.
    ('ix_incidents_statistics', 'incidents', ['occurred_on', 'municipality', 'case_id', 'id']),
    # "Did this case consent to statistics?" without reading the case row.
    ('ix_cases_id_consent_statistics', 'cases', ['id', 'consent_statistics']),
    # When each referral was accepted: days from referral to acceptance.
    ('ix_referral_events_referral_action', 'referral_events', ['referral_id', 'action', 'at']),
    # Follow-ups due in a period and whether they were done in time.
    ('ix_follow_ups_due_case', 'follow_ups', ['due_on', 'case_id', 'done_on']),
)


def upgrade():
    for name, table, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
