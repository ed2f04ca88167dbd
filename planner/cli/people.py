"""`flask people import`: the staff directory from a CSV file."""

import click
from flask import current_app
from flask.cli import AppGroup

from ..directory import DirectoryError, read_people_csv
from ..extensions import db
from ..services import audit
from ..services.people import write_rows

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
