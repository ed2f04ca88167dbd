"""The web blueprints, registered on the app."""

from flask import Flask, redirect, url_for


def register(app: Flask) -> None:
    """Attach every blueprint and the front page."""
    from . import auth, changes, events, health, mailbox, people, rsvp, seating

    for module in (auth, events, mailbox, people, rsvp, changes, seating, health):
        app.register_blueprint(module.bp)
    app.add_url_rule("/", "index", lambda: redirect(url_for("events.index")))
