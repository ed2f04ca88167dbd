"""Flask commands, one module per group: accounts, people, outbox, demo, mail, series, backup, reminders, feedback, offers,
privacy.

Each module is imported only when its command runs (or when the commands are listed), so that
`flask mail ingest` loads what it needs and nothing else.
"""

from importlib import import_module

from flask import Flask
from flask.cli import AppGroup

from ..light import release_collection

#: command name -> (module in this package, the click command in it)
COMMANDS = {
    "organiser": ("accounts", "organiser_cli"),
    "people": ("people", "people_cli"),
    "outbox": ("outbox", "outbox_cli"),
    "demo": ("demo", "demo_command"),
    "mail": ("mail", "mail_cli"),
    "series": ("series", "series_cli"),
    "backup": ("backup", "backup_command"),
    "reminders": ("reminders", "reminders_cli"),
    "feedback": ("feedback", "feedback_cli"),
    "offers": ("offers", "offers_cli"),
    "privacy": ("privacy", "privacy_cli"),
}


class LazyCommands(AppGroup):
    """The app's command group: a project command's module is imported when that command is looked up."""

    def get_command(self, ctx, name):
        """Return a command, importing the module of a project command on first use (start-up ends there)."""
        if name in COMMANDS and name not in self.commands:
            module, attribute = COMMANDS[name]
            self.add_command(getattr(import_module(f"{__name__}.{module}"), attribute), name)
        release_collection()
        return super().get_command(ctx, name)

    def list_commands(self, ctx):
        """Return every command name, the project's ones without importing them."""
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))


def register(app: Flask) -> None:
    """Add the project's commands to the flask CLI (keeping any command added before)."""
    lazy = LazyCommands(app.cli.name)
    for name, command in app.cli.commands.items():
        lazy.add_command(command, name)
    app.cli = lazy
