"""The web blueprints, registered on the app."""

from flask import Flask, redirect, url_for


def register(app: Flask) -> None:
    """Attach every blueprint and the front page."""
    from . import attendance, auth, changes, events, mailbox, people, rsvp, seating, series

    for module in (auth, events, mailbox, people, rsvp, changes, seating, series, attendance):
        app.register_blueprint(module.bp)
    app.add_url_rule("/", "index", lambda: redirect(url_for("events.index")))
