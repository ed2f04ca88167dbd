"""`flask people import`: the staff directory from a CSV file; `people export` and `people erase`: personal data on request."""

import json

import click
from flask import current_app
from flask.cli import AppGroup

from ..config import sends_at_once
from ..directory import DirectoryError, read_people_csv
from ..extensions import db
from ..mailer import deliver_event_mail, mail_settings
from ..models import utcnow
from ..services import audit
from ..services.people import write_rows
from ..services.privacy import PrivacyError, erase_person, export_person, find_person

people_cli = AppGroup("people", help="Manage the staff directory.")


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
    deactivated = len(summary.missing) if deactivate_missing else 0
    audit.record(db.session, "people.import", actor=audit.COMMAND_LINE,
                 summary=f"{len(summary.new)} new, {len(summary.changed)} changed, {deactivated} deactivated (command line)")
    db.session.commit()
    click.echo(
        f"{len(summary.new)} new, {len(summary.changed)} changed, {summary.unchanged} unchanged, {deactivated} deactivated."
    )
    if summary.missing and not deactivate_missing:
        click.echo(f"{len(summary.missing)} active people are not in the file (use --deactivate-missing).")


@people_cli.command("export")
@click.argument("email")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-", help="Write to this file (default: stdout).")
def export_person_command(email: str, output) -> None:
    """Write everything stored about one person as JSON (audited)."""
    try:
        person = find_person(db.session, email)
    except PrivacyError as error:
        raise click.ClickException(str(error)) from None
    data = export_person(db.session, person, utcnow())
    audit.record(db.session, "person.export", actor=audit.COMMAND_LINE, subject=("person", person.id))
    db.session.commit()
    output.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@people_cli.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Erase without asking (for scripts).")
def erase_person_command(email: str, yes: bool) -> None:
    """Erase one person's personal data for good, keeping anonymous counts (audited)."""
    try:
        person = find_person(db.session, email)
    except PrivacyError as error:
        raise click.ClickException(str(error)) from None
    if not yes:
        click.confirm(f"Erase the personal data of person #{person.id} for good?", abort=True)
    try:
        erasure = erase_person(db.session, person, mail_settings(), utcnow())
    except PrivacyError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    audit.record(db.session, "person.erase", actor=audit.COMMAND_LINE, subject=("person", erasure.person_id), summary=erasure.summary)
    db.session.commit()
    if sends_at_once(current_app.config):
        for event_id in erasure.events:
            deliver_event_mail(event_id)
    click.echo(f"Person #{erasure.person_id} erased: {erasure.summary}.")
