"""audit log append-only: triggers, and grants for the application's database role

On PostgreSQL the application should connect as its own role (default `ruta_app`,
or RUTA_DB_APP_ROLE) while migrations run as the owner. When that role exists this
migration grants it ordinary rights on every table but only SELECT and INSERT on
`audit_events`. On both databases a trigger refuses UPDATE and DELETE of audit rows,
so even a bug in the application cannot rewrite history.

Revision ID: 0003
Revises: 0002
"""

import os
import re

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ruta_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit rows are append-only';
END;
$$ LANGUAGE plpgsql
"""


def _app_role() -> str:
    role = os.environ.get("RUTA_DB_APP_ROLE", "ruta_app")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError("RUTA_DB_APP_ROLE must be a plain lower-case identifier")
    return role


def _grant_app_role(role: str) -> None:
    op.execute(f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO {role}', current_schema());
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO {role}',
                       current_schema());
        EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO {role}',
                       current_schema());
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}',
                       current_schema());
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO {role}',
                       current_schema());
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM {role};
    END IF;
END $$;
""")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION ruta_audit_append_only()"
        )
        _grant_app_role(_app_role())
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{event.lower()} BEFORE {event} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END"
            )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS ruta_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
