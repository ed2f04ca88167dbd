"""`flask demo`: migrations, a demo company and an organiser, and the Demo mailbox."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from ..demo import load_demo, mark_demo
from ..extensions import db


@click.command("demo")
@with_appcontext
@click.option("--people", default=300, show_default=True)
def demo_command(people: int) -> None:
    """Apply migrations, load a demo company with an organiser and show the Demo mailbox (safe to run twice)."""
    upgrade(directory=str(Path(current_app.root_path).parent / "migrations"))
    login = load_demo(db.session, people, current_app.config["LEVELS"])
    db.session.commit()
    mark_demo(current_app.instance_path)
    current_app.config["DEMO_MAILBOX"] = True
    click.echo(f"Demo ready: log in at {current_app.config['BASE_URL']}/auth/login as {login[0]} with password {login[1]}")
    if current_app.config["MAIL_TRANSPORT"] == "mailbox":
        click.echo(f"Mail is kept, not sent: read it in the Demo mailbox at {current_app.config['BASE_URL']}/mailbox/")
