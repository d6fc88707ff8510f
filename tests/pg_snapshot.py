"""A PostgreSQL test schema's rows kept and put back: a fixture that takes seconds to
build (the permission matrix's world) is built once per module and worker and put back
before each test, as SQLite copies its file. Rows go back with triggers and foreign-key
checks off, as `empty_pg_tables` deletes them, and every sequence where it stood."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData, text

from tests.conftest import pg_engine


@dataclass
class Snapshot:
    tables: MetaData  # the schema's tables, reflected once
    rows: dict[str, list[dict[str, Any]]]
    sequences: dict[str, int | None]  # name -> last value (None: never used)


def _tables(conn: Any) -> MetaData:
    """Every table but alembic_version (its row is the same for every test)."""
    metadata = MetaData()
    metadata.reflect(conn, resolve_fks=False, only=lambda name, _: name != "alembic_version")
    return metadata


def take(url: str) -> Snapshot:
    with pg_engine(url).connect() as conn:
        metadata = _tables(conn)
        rows = {
            name: [dict(row._mapping) for row in conn.execute(table.select())]
            for name, table in metadata.tables.items()
        }
        sequences = {
            name: value
            for name, value in conn.execute(
                text(
                    "SELECT sequencename, last_value FROM pg_sequences "
                    "WHERE schemaname = current_schema()"
                )
            )
        }
    return Snapshot(metadata, rows, sequences)


def put_back(url: str, snapshot: Snapshot) -> None:
    """The schema as it was at `take` (its rows, in place of whatever a test left)."""
    with pg_engine(url).begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        for name, table in snapshot.tables.tables.items():
            conn.execute(table.delete())
            if snapshot.rows.get(name):
                conn.execute(table.insert(), snapshot.rows[name])
        for name, value in snapshot.sequences.items():
            if value is None:
                conn.execute(text("SELECT setval(:name, 1, false)"), {"name": name})
            else:
                conn.execute(text("SELECT setval(:name, :value)"), {"name": name, "value": value})
