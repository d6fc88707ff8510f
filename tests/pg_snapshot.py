"""A PostgreSQL test schema's rows kept and put back, as SQLite copies its file: the
migrated template with the network's directory before every test, and a fixture that
takes seconds to build (the permission matrix's world) once per module and worker. Rows
go back with triggers and foreign-key checks off, and every sequence where it stood. The
deletions and the sequences go to the server as one script each: one round trip, not one
per table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData, create_engine, text

_ENGINES: dict[str, Any] = {}


def pg_engine(url: str) -> Any:
    """One engine per test schema for the fixtures' own statements."""
    return _ENGINES.get(url) or _ENGINES.setdefault(url, create_engine(url))


def dispose_engines() -> None:
    for engine in _ENGINES.values():
        engine.dispose()


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


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def deletions(names: list[str]) -> str:
    return "".join(f"DELETE FROM {_quoted(name)};" for name in names)  # noqa: S608 - reflected names


def _sequence_script(sequences: dict[str, int | None]) -> str:
    return "".join(
        f"SELECT setval('{_quoted(name)}', 1, false);"
        if value is None
        else f"SELECT setval('{_quoted(name)}', {int(value)});"
        for name, value in sequences.items()
    )


def put_back(url: str, snapshot: Snapshot) -> None:
    """The schema as it was at `take` (its rows, in place of whatever a test left)."""
    with pg_engine(url).begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.exec_driver_sql(deletions(list(snapshot.tables.tables)))
        for name, table in snapshot.tables.tables.items():
            if snapshot.rows.get(name):
                conn.execute(table.insert(), snapshot.rows[name])
        if snapshot.sequences:
            conn.exec_driver_sql(_sequence_script(snapshot.sequences))
