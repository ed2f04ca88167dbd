"""Error pages in the site's layout, each with a way back; a personal link's 404 reveals nothing."""

from flask import Flask, current_app, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from ..extensions import db

CODES = (400, 403, 404, 405, 409, 413, 500)


def register(app: Flask) -> None:
    """Render every error code of CODES with its page in templates/errors."""
    for code in CODES:
        app.register_error_handler(code, error_page)


def error_page(error: HTTPException):
    """Render the error's page; a server error first rolls back the request's transaction."""
    code = getattr(error, "code", None) or 500
    if code == 500:
        db.session.rollback()
    headers = {"Allow": ", ".join(error.valid_methods)} if getattr(error, "valid_methods", None) else {}
    page = render_template(f"errors/{code}.html", back=_way_back(), limit_mb=_upload_limit_mb())
    return page, code, headers


def _way_back() -> tuple[str, str] | None:
    """Where the error page links back to: nowhere from a personal RSVP link, else the events or the login."""
    if request.blueprint == "rsvp" or request.path.startswith("/rsvp/"):
        return None
    if current_user.is_authenticated:
        return url_for("events.index"), "Back to the events"
    return url_for("auth.login"), "Go to the login"


def _upload_limit_mb() -> str:
    """The largest accepted request body in megabytes, as shown to people."""
    size = current_app.config["MAX_CONTENT_LENGTH"] or 0
    return f"{size / (1024 * 1024):g}"
