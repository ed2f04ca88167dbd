"""The web blueprints, registered on the app, and the error pages."""

from flask import Flask, redirect, url_for


def register(app: Flask) -> None:
    """Attach every blueprint, the error pages and the front page."""
    from . import (
        account,
        attendance,
        auth,
        changes,
        errors,
        events,
        health,
        mailbox,
        people,
        proposals,
        questions,
        rsvp,
        seating,
        series,
    )

    for module in (
        account, auth, events, proposals, mailbox, people, rsvp, changes, seating, series, attendance, health, questions
    ):
        app.register_blueprint(module.bp)
    errors.register(app)
    app.add_url_rule("/", "index", lambda: redirect(url_for("events.index")))
