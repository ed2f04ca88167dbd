"""`flask outbox send` (cron) and `flask outbox work` (a long-running worker): deliver queued mail, run background jobs."""

import signal
import sys
import time
from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import AppGroup

from .. import jobs
from ..extensions import db
from ..mail import MailConfigError, transport_from_config
from ..outbox import DeliveryReport, deliver, lease_from_config

outbox_cli = AppGroup("outbox", help="Deliver queued mail and run background jobs (seating plans).")


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
@click.option("--interval", default=2.0, show_default=True, help="Seconds to wait when nothing is due.")
@click.option("--once", is_flag=True, help="Stop when nothing is due.")
@click.option("--batch", default=100, show_default=True, help="Messages claimed at a time.")
@click.option("--jobs/--no-jobs", "with_jobs", default=True, show_default=True, help="Also run background jobs (seating plans).")
def work_command(interval: float, once: bool, batch: int, with_jobs: bool) -> None:
    """Keep delivering mail and running background jobs as they become due (several workers may run at once)."""
    with stopping_on_sigterm():
        while True:
            ran = run_due_jobs() if with_jobs else 0
            report = deliver_due(batch)
            if ran:
                click.echo(f"{ran} job{'' if ran == 1 else 's'} run")
            if report.sent or report.retry or report.failed:
                click.echo(str(report))
            if not (ran or report.sent or report.retry or report.failed):
                if once:
                    return
                time.sleep(interval)


def run_due_jobs() -> int:
    """Run the due background jobs (a few at a time, so that mail keeps moving) under OUTBOX_LEASE_SECONDS."""
    try:
        lease = lease_from_config(current_app.config)
    except MailConfigError as error:
        raise click.ClickException(str(error)) from None
    return jobs.run_due(db.session, lease=lease, limit=3)


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
