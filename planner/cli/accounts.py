"""`flask organiser`: organiser accounts."""

import sys

import click
from flask.cli import AppGroup

from ..extensions import db
from ..models import OrganiserRole
from ..services import audit
from ..services.accounts import AccountError, create_organiser

organiser_cli = AppGroup("organiser", help="Manage organiser accounts.")


@organiser_cli.command("create")
@click.argument("email")
@click.option("--name", default="", help="Display name (defaults to the email).")
@click.option("--role", type=click.Choice([role.value for role in OrganiserRole]), default=None,
              help="admin, organiser or viewer (default: admin for the first organiser, organiser after that).")
def create_organiser_command(email: str, name: str, role: str | None) -> None:
    """Create an organiser who can log in (password from a prompt, or the first line of standard input)."""
    password = read_password()
    try:
        organiser = create_organiser(db.session, email, name, password, OrganiserRole(role) if role else None)
    except AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    audit.record(db.session, "organiser.create", actor=audit.COMMAND_LINE, subject=("organiser", organiser.id),
                 summary=f"{organiser.email} as {organiser.role}")
    db.session.commit()
    click.echo(f"Organiser {organiser.email} created ({organiser.role}).")


def read_password() -> str:
    """Ask twice on a terminal; otherwise take the first line of standard input (for scripts)."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")
