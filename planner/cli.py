"""Flask commands: organiser accounts, directory import, outbox delivery, demo data."""

import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_migrate import upgrade

from .cli_mail import mail_cli
from .cli_ops import backup_command
from .cli_series import series_cli
from .directory import DirectoryError, read_people_csv
from .extensions import db
from .mail import MailConfigError, transport_from_config
from .outbox import DeliveryReport, deliver, lease_from_config
from .services.accounts import AccountError, create_organiser
from .services.people import write_rows

organiser_cli = AppGroup("organiser", help="Manage organiser accounts.")
people_cli = AppGroup("people", help="Manage the staff directory.")
outbox_cli = AppGroup("outbox", help="Deliver queued mail.")


@organiser_cli.command("create")
@click.argument("email")
@click.option("--name", default="", help="Display name (defaults to the email).")
def create_organiser_command(email: str, name: str) -> None:
    """Create an organiser who can log in (password from a prompt, or the first line of standard input)."""
    password = read_password()
    try:
        organiser = create_organiser(db.session, email, name, password)
    except AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Organiser {organiser.email} created.")


def read_password() -> str:
    """Ask twice on a terminal; otherwise take the first line of standard input (for scripts)."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@people_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--deactivate-missing/--keep-missing", default=False, help="Deactivate active people absent from the file.")
def import_people_command(file, deactivate_missing: bool) -> None:
    """Import or update people from a CSV file (email,name,department,level[,joined_on,active])."""
    try:
        staff = read_people_csv(file.read(), current_app.config["LEVELS"])
    except DirectoryError as error:
        for problem in error.problems:
            click.echo(f"line {problem.line}: {problem.reason}", err=True)
        raise click.ClickException(str(error)) from None
    click.echo(f"{staff.reading.describe()}.")
    if staff.reading.warning:
        click.echo(f"warning: {staff.reading.warning}", err=True)
    summary = write_rows(db.session, staff.rows, deactivate_missing=deactivate_missing)
    db.session.commit()
    deactivated = len(summary.missing) if deactivate_missing else 0
    click.echo(
        f"{len(summary.new)} new, {len(summary.changed)} changed, {summary.unchanged} unchanged, {deactivated} deactivated."
    )
    if summary.missing and not deactivate_missing:
        click.echo(f"{len(summary.missing)} active people are not in the file (use --deactivate-missing).")


@outbox_cli.command("send")
@click.option("--limit", default=500, show_default=True, help="At most this many messages.")
def send_command(limit: int) -> None:
    """Deliver the queued mail that is due, once (for cron)."""
    with stopping_on_sigterm():
        report = deliver_due(limit)
    click.echo(str(report))
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    if report.errors:
        sys.exit(1)


@outbox_cli.command("work")
@click.option("--interval", default=10.0, show_default=True, help="Seconds to wait when nothing is due.")
@click.option("--once", is_flag=True, help="Stop when nothing is due.")
@click.option("--batch", default=100, show_default=True, help="Messages claimed at a time.")
def work_command(interval: float, once: bool, batch: int) -> None:
    """Keep delivering mail as it becomes due (several workers may run at once)."""
    with stopping_on_sigterm():
        while True:
            report = deliver_due(batch)
            if report.sent or report.retry or report.failed:
                click.echo(str(report))
            if not (report.sent or report.retry or report.failed):
                if once:
                    return
                time.sleep(interval)


def deliver_due(limit: int) -> DeliveryReport:
    """Deliver up to limit due messages with the app's transport and OUTBOX_LEASE_SECONDS."""
    try:
        transport, lease = transport_from_config(current_app.config), lease_from_config(current_app.config)
    except MailConfigError as error:
        raise click.ClickException(str(error)) from None
    return deliver(db.session, transport, limit=limit, lease=lease)


@contextmanager
def stopping_on_sigterm():
    """Turn SIGTERM (systemctl stop) into SystemExit meanwhile, so that a run puts back what it has not sent at once."""
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command("demo")
@click.option("--people", default=300, show_default=True)
def demo_command(people: int) -> None:
    """Apply migrations, load a demo company with an organiser and show the Demo mailbox (safe to run twice)."""
    from .demo import load_demo, mark_demo

    upgrade(directory=str(Path(current_app.root_path).parent / "migrations"))
    login = load_demo(db.session, people, current_app.config["LEVELS"])
    db.session.commit()
    mark_demo(current_app.instance_path)
    current_app.config["DEMO_MAILBOX"] = True
    click.echo(f"Demo ready: log in at {current_app.config['BASE_URL']}/auth/login as {login[0]} with password {login[1]}")
    if current_app.config["MAIL_TRANSPORT"] == "mailbox":
        click.echo(f"Mail is kept, not sent: read it in the Demo mailbox at {current_app.config['BASE_URL']}/mailbox/")


def register(app: Flask) -> None:
    """Add the project's commands to the flask CLI."""
    app.cli.add_command(organiser_cli)
    app.cli.add_command(people_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(mail_cli)
    app.cli.add_command(series_cli)
    app.cli.add_command(backup_command)
