"""`flask --app wsgi measures …`: the protection measures' daily job."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cases.measure_notices import notify_expiring_measures
from app.extensions import db

measures_cli = AppGroup("measures", help="Protection measures housekeeping.")


@measures_cli.command("notify-expiring")
def measures_notify_expiring() -> None:
    """Tell the parties, once, of each measure ending within a week (run it daily)."""
    count = notify_expiring_measures(db.session)
    db.session.commit()
    click.echo(f"{count} measures about to expire notified")
