"""No ping before each request: a read that meets a pooled connection the database has
dropped (a restart, a failover, an idle timeout) is answered by a second try; a write
gets the 503 with Retry-After it always got, and nothing is half done."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from app.extensions import db
from tests.conftest import USING_PG
from tests.factories import intake

pytestmark = pytest.mark.skipif(not USING_PG, reason="a server that drops connections: PostgreSQL")


def drop_pooled_connections(app, settings) -> int:
    """Terminate the backend of every connection the app's pool holds."""
    with app.app_context():
        pids = []
        held = [db.engine.connect() for _ in range(2)]
        for conn in held:
            pids.append(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        for conn in held:
            conn.close()  # back to the pool, alive as far as the pool knows
    admin = create_engine(settings.database_url)
    try:
        with admin.connect() as conn:
            for pid in pids:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()
    return len(pids)


def test_the_engine_does_not_ping_before_each_checkout(app):
    with app.app_context():
        assert db.engine.pool._pre_ping is False
        assert db.engine.pool._recycle == 300


def test_a_read_on_a_dropped_connection_is_answered_by_a_second_try(
    app, client, pnc, settings, caplog
):
    assert client.get("/api/v1/cases", headers=pnc.headers).status_code == 200
    drop_pooled_connections(app, settings)

    read = client.get("/api/v1/cases", headers=pnc.headers)

    assert read.status_code == 200, read.get_json()
    assert "dropped connection: GET /api/v1/cases tried again" in caplog.text


def test_a_write_on_a_dropped_connection_is_503_and_writes_nothing(app, client, pnc, settings):
    assert client.get("/api/v1/cases", headers=pnc.headers).status_code == 200
    drop_pooled_connections(app, settings)

    created = client.post("/api/v1/cases", json=intake(), headers=pnc.headers)

    assert created.status_code == 503
    assert int(created.headers["Retry-After"]) > 0
    listed = client.get("/api/v1/cases", headers=pnc.headers)
    assert listed.status_code == 200 and listed.get_json()["items"] == []
    assert client.post("/api/v1/cases", json=intake(), headers=pnc.headers).status_code == 201
