"""Flask commands, one module per group: accounts, people, outbox, demo, mail, series, backup, reminders."""

from flask import Flask


def register(app: Flask) -> None:
    """Add the project's commands to the flask CLI."""
    from .accounts import organiser_cli
    from .backup import backup_command
    from .demo import demo_command
    from .mail import mail_cli
    from .outbox import outbox_cli
    from .people import people_cli
    from .reminders import reminders_cli
    from .series import series_cli

    for command in (organiser_cli, people_cli, outbox_cli, demo_command, mail_cli, series_cli, backup_command, reminders_cli):
        app.cli.add_command(command)
