"""The web blueprints, registered on the app, and the error pages."""

from flask import Flask, redirect, url_for


def register(app: Flask) -> None:
    """Attach every blueprint, the error pages and the front page."""
    from . import (
        account,
        admin,
        analytics,
        attendance,
        audit,
        auth,
        changes,
        co_organisers,
        dashboard,
        errors,
        events,
        exports,
        feedback,
        feeds,
        health,
        mailbox,
        people,
        privacy,
        proposals,
        questions,
        rsvp,
        scim,
        seating,
        series,
        sso,
    )

    for module in (account, auth, events, proposals, mailbox, people, rsvp, changes, seating, series, attendance, health,
                   dashboard, analytics, exports, feeds, questions, sso, privacy, scim, co_organisers, admin, audit):
        app.register_blueprint(module.bp)
    for extra in (feedback.bp, feedback.results_bp, feeds.settings_bp):
        app.register_blueprint(extra)
    errors.register(app)
    app.add_url_rule("/", "index", lambda: redirect(url_for("dashboard.index")))
