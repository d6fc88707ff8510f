"""`flask --app wsgi stats …`: the observatory's housekeeping."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.core.time import local_today
from app.extensions import db
from app.reports.service import refresh

stats_cli = AppGroup("stats", help="The observatory's stored counts.")


@stats_cli.command("refresh")
def stats_refresh() -> None:
    """Count again what changed in the periods published most (run it from cron, and
    after a bulk load), so that pages and the API answer from stored counts."""
    periods = refresh(db.session, local_today())
    db.session.commit()
    click.echo(f"refreshed: {', '.join(periods)}")
