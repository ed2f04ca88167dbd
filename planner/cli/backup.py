"""`flask backup`: a consistent copy of the SQLite database (PostgreSQL installations use pg_dump)."""

from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..backup import BackupError, backup_sqlite


@click.command("backup")
@with_appcontext
@click.argument("target", required=False, type=click.Path(dir_okay=False, path_type=Path))
def backup_command(target: Path | None) -> None:
    """Copy the SQLite database to TARGET (default instance/backups/planner-<time>.sqlite), safe while the app runs."""
    target = target or Path(current_app.instance_path) / "backups" / f"planner-{datetime.now(UTC):%Y%m%d-%H%M%S}.sqlite"
    try:
        pages = backup_sqlite(current_app.config["SQLALCHEMY_DATABASE_URI"], target)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Backup written to {target} ({pages} pages).")
