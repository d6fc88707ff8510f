"""account hardening: one-time passwords expire, account recovery, token idle time,
the known addresses and trusted devices of the login throttle

`users` gets `temp_password_expires_at` (a one-time password works 72 hours; those
already handed out get 72 hours from this upgrade) and `trusted_devices_since` (device
cookies older than an account recovery are not trusted). `api_tokens` gets
`last_used_at` (the idle timeout) and `ip` (shown on "Mis sesiones"). New tables:
`account_recoveries` (asked by an administrator, decided by a supervisor) and
`known_addresses` (where she got API tokens from before).

The `users` columns are added and dropped in place, as in 0007: rebuilding `users` the
batch way fails on SQLite while other tables' rows point at it.

Revision ID: 0010
Revises: 0009
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ONE_TIME_PASSWORD_HOURS = 72
USER_COLUMNS = ("temp_password_expires_at", "trusted_devices_since")
USERS = sa.table(
    "users",
    sa.column("must_change_password", sa.Boolean()),
    sa.column("temp_password_expires_at", sa.DateTime()),
    sa.column("password_hash", sa.String()),
)
# No argon2 hash: verify_password refuses every password against it.
UNUSABLE_HASH = "!one-time-password-expired"


def _now() -> datetime:
    """Naive UTC, as the application stores it (core.db.UTCDateTime)."""
    return datetime.now(UTC).replace(tzinfo=None)


def upgrade():
    for column in USER_COLUMNS:
        op.add_column("users", sa.Column(column, sa.DateTime(), nullable=True))
    deadline = _now() + timedelta(hours=ONE_TIME_PASSWORD_HOURS)
    op.execute(
        USERS.update()
        .where(USERS.c.must_change_password.is_(True))
        .values(temp_password_expires_at=deadline)
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("ip", sa.String(length=45), nullable=True))
    op.create_table(
        "account_recoveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_account_recoveries_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["users.id"],
            name=op.f("fk_account_recoveries_requested_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"],
            ["users.id"],
            name=op.f("fk_account_recoveries_decided_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_recoveries")),
    )
    with op.batch_alter_table("account_recoveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_recoveries_user_id"), ["user_id"], unique=False
        )
    op.create_table(
        "known_addresses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_known_addresses_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_known_addresses")),
        sa.UniqueConstraint("user_id", "ip", name="uq_known_addresses_user_ip"),
    )
    with op.batch_alter_table("known_addresses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_known_addresses_user_id"), ["user_id"], unique=False)


def downgrade():
    # Without the expiry the old code would take an expired one-time password for good:
    # such a password stops working now instead.
    op.execute(
        USERS.update()
        .where(
            USERS.c.must_change_password.is_(True),
            sa.or_(
                USERS.c.temp_password_expires_at.is_(None),
                USERS.c.temp_password_expires_at <= _now(),
            ),
        )
        .values(password_hash=UNUSABLE_HASH)
    )
    with op.batch_alter_table("known_addresses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_known_addresses_user_id"))
    op.drop_table("known_addresses")
    with op.batch_alter_table("account_recoveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_recoveries_user_id"))
    op.drop_table("account_recoveries")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("ip")
        batch_op.drop_column("last_used_at")
    for column in USER_COLUMNS:
        op.drop_column("users", column)
