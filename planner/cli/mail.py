"""Flask commands for inbound mail: `mail ingest` for an MTA pipe, `mail serve` for an SMTP listener."""

import logging
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from ..extensions import db
from ..mailer import mail_settings
from ..models import utcnow
from ..services.locking import once_more_when_stale
from ..services.replies import ingest, log_refused

log = logging.getLogger(__name__)
mail_cli = AppGroup("mail", help="Read calendar replies and bounces.")

#: sysexits.h EX_TEMPFAIL: the MTA keeps the message and tries again later
EX_TEMPFAIL = 75


def ingest_raw(raw: bytes, recipients: tuple[str, ...] = ()):
    """Apply one message in its own transaction (tried once more on a stale SQLite snapshot) and return its log entry.

    When the database refuses a value that applying the message writes, the message is logged as rejected
    instead; any other database error (unreachable, locked, no schema) rolls back and raises.
    """

    def apply():
        entry = ingest(db.session, raw, mail_settings(), utcnow(), recipients)
        db.session.commit()
        return entry

    def refuse(error: SQLAlchemyError):
        entry = log_refused(db.session, raw, utcnow(), f"the database refused a value of the message ({error.orig})")
        db.session.commit()
        return entry

    try:
        try:
            entry = once_more_when_stale(db.session, apply)
        except (DataError, IntegrityError) as error:  # the message, not the database: a retry would fail forever
            db.session.rollback()
            entry = refuse(error)
    except SQLAlchemyError:
        db.session.rollback()
        raise
    log.info("inbound %s from %s: %s (%s)", entry.message_id, entry.sender, entry.outcome, entry.reason)
    return entry


def inbound_handler(app: Flask):
    """Return a listener callback that applies each message inside its own app context."""

    def handle(raw: bytes) -> None:
        with app.app_context():
            ingest_raw(raw)

    return handle


@mail_cli.command("ingest")
@click.argument("file", type=click.File("rb"), default="-")
@click.option("--recipient", "recipients", multiple=True, help="Envelope recipient (for example Postfix's ${recipient}).")
def ingest_command(file, recipients: tuple[str, ...]) -> None:
    """Apply one RFC 5322 message from FILE or standard input: a calendar reply or a bounce.

    Exits 0 whether the message was applied, ignored or rejected (the reason is printed), so that an
    MTA pipe never bounces a reply back to its sender; exits 75 (try again later) only when the database
    cannot log the message (unreachable, locked, or without its tables).
    """
    raw = file.read()
    try:
        entry = ingest_raw(raw, recipients)
    except SQLAlchemyError as error:
        click.echo(f"database error, try again later: {error}", err=True)
        sys.exit(EX_TEMPFAIL)
    click.echo(f"{entry.outcome}: {entry.reason}")


@mail_cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2525, show_default=True, type=int)
def serve_command(host: str, port: int) -> None:
    """Run an SMTP listener that applies every message it receives (a database error answers 451) until SIGINT or SIGTERM."""
    from ..inbound import serve_forever  # aiosmtpd and asyncio: only this command needs them

    click.echo(f"Listening for replies on {host}:{port} (Ctrl-C or SIGTERM stops).")
    serve_forever(host, port, inbound_handler(current_app._get_current_object()))
