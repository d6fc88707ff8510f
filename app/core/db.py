"""Database engine settings that SQLAlchemy's URL cannot express."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event


def configure_sqlite(engine: Any) -> None:
    """SQLite for development: foreign keys on, WAL, and write transactions taken
    up front (BEGIN IMMEDIATE) so concurrent workers queue instead of failing or
    deciding on stale reads (two intakes of one survivor must not both insert)."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
