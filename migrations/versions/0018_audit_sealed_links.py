"""audit log without a global lock: events stand alone, a sealer chains them

Requests now append an event with its own HMAC and touch no shared row; a sealer
(`app/audit/seal.py`) chains the committed events in `audit_links` and moves the sealed
head. This migration:

* gives `audit_events.id` a database default (a sequence on PostgreSQL; SQLite's rowid
  already is one) and lets `prev_hmac` be empty for the new events;
* adds `audit_events.xact`, the writing transaction's id on PostgreSQL (the sealer's
  low-water mark: every event of a transaction older than the oldest one still running
  is on the record), 0 for the events already there;
* creates `audit_links`, append-only like the events, with the same grants;
* adds the head's `floor` and puts the head back at the start: the first seal links the
  events already there in their order (their own HMACs, which cover the old chain, are
  checked as they are linked).

Revision ID: 0018
Revises: 0016
"""

import os
import re

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def _app_role() -> str:
    role = os.environ.get("RUTA_DB_APP_ROLE", "ruta_app")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError("RUTA_DB_APP_ROLE must be a plain lower-case identifier")
    return role


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


SQLITE_GUARDS = ("UPDATE", "DELETE")


def _sqlite_guard(table: str, event: str) -> str:
    return (
        f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
        "BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END"
    )


def _events_get_a_sequence() -> None:
    op.execute("CREATE SEQUENCE IF NOT EXISTS audit_events_id_seq OWNED BY audit_events.id")
    op.execute(
        "SELECT setval('audit_events_id_seq', "
        "COALESCE((SELECT max(id) FROM audit_events), 0) + 1, false)"
    )
    op.execute(
        "ALTER TABLE audit_events ALTER COLUMN id SET DEFAULT nextval('audit_events_id_seq')"
    )
    # The rows already there get 0: older than any transaction still running.
    op.execute("ALTER TABLE audit_events ADD COLUMN xact BIGINT DEFAULT 0")
    op.execute(
        "ALTER TABLE audit_events ALTER COLUMN xact "
        "SET DEFAULT (pg_current_xact_id()::text)::bigint"
    )
    op.execute("ALTER TABLE audit_events ALTER COLUMN prev_hmac DROP NOT NULL")


def _links_are_append_only() -> None:
    if not _postgresql():
        for event in SQLITE_GUARDS:
            op.execute(_sqlite_guard("audit_links", event))
        return
    op.execute(
        "CREATE TRIGGER audit_links_append_only BEFORE UPDATE OR DELETE ON audit_links "
        "FOR EACH ROW EXECUTE FUNCTION ruta_audit_append_only()"
    )
    role = _app_role()
    op.execute(f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
        GRANT SELECT, INSERT ON audit_links TO {role};
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_links FROM {role};
        GRANT USAGE, SELECT ON SEQUENCE audit_events_id_seq TO {role};
    END IF;
END $$;
""")


def _sqlite_events_rebuilt(nullable: bool) -> None:
    """SQLite alters a column by copying the table, which drops its triggers: put them back."""
    for event in SQLITE_GUARDS:
        op.execute(f"DROP TRIGGER IF EXISTS audit_events_no_{event.lower()}")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        if nullable:
            batch_op.add_column(sa.Column("xact", sa.BigInteger(), nullable=True))
        else:
            batch_op.drop_column("xact")
        batch_op.alter_column("prev_hmac", existing_type=sa.String(length=64), nullable=nullable)
    for event in SQLITE_GUARDS:
        op.execute(_sqlite_guard("audit_events", event))


def upgrade():
    if _postgresql():
        _events_get_a_sequence()
    else:
        _sqlite_events_rebuilt(nullable=True)
    op.create_index("ix_audit_events_xact", "audit_events", ["xact"])
    op.create_table(
        "audit_links",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("hmac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_links")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_links_event_id")),
    )
    _links_are_append_only()
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("floor", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute(
        f"UPDATE audit_head SET last_event_id = 0, last_hmac = '{GENESIS}', count = 0, "
        "head_mac = NULL, floor = 0"
    )


def downgrade():
    """Back to one chain whose head the writers lock. The events written since the upgrade
    have no previous-link HMAC (it reads as the genesis one) and the head is left unsealed,
    so the old `audit verify` reports the log from the first of them on: the truth, as the
    old code can tell it. Their rows, ids and times are all kept."""
    op.drop_table("audit_links")
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("floor")
    op.drop_index("ix_audit_events_xact", table_name="audit_events")
    if _postgresql():
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        op.execute(f"UPDATE audit_events SET prev_hmac = '{GENESIS}' WHERE prev_hmac IS NULL")
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
        op.execute("ALTER TABLE audit_events ALTER COLUMN prev_hmac SET NOT NULL")
        op.execute("ALTER TABLE audit_events DROP COLUMN xact")
        op.execute("ALTER TABLE audit_events ALTER COLUMN id DROP DEFAULT")
        op.execute("DROP SEQUENCE IF EXISTS audit_events_id_seq")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute(f"UPDATE audit_events SET prev_hmac = '{GENESIS}' WHERE prev_hmac IS NULL")
        _sqlite_events_rebuilt(nullable=False)
    # The old writers take the next id from the head: it must stand at the last event.
    op.execute(
        "UPDATE audit_head SET "
        "last_event_id = COALESCE((SELECT max(id) FROM audit_events), 0), "
        "count = (SELECT count(*) FROM audit_events), "
        f"last_hmac = COALESCE((SELECT hmac FROM audit_events ORDER BY id DESC LIMIT 1), "
        f"'{GENESIS}'), head_mac = NULL"
    )
