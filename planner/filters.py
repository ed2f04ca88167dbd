"""Template filters and globals (none of them queries the database)."""

from flask import Flask

from .config import mailbox_shown
from .services.events import local
from .text import plural


def register(app: Flask) -> None:
    """Add the project's Jinja filters and globals."""
    app.jinja_env.filters["local"] = local
    app.jinja_env.filters["plural"] = plural
    app.jinja_env.globals["level_name"] = lambda level: level_name(app, level)
    app.jinja_env.globals["mailbox_shown"] = lambda: mailbox_shown(app.config)


def level_name(app: Flask, level: int) -> str:
    """Return the ladder name of a level number."""
    ladder = app.config["LEVELS"]
    return ladder[level] if 0 <= level < len(ladder) else str(level)
