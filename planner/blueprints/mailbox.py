"""The demo mailbox: with the mailbox transport, organisers read here what would have been mailed."""

from email import policy
from email.parser import BytesParser

from flask import Blueprint, Response, abort, current_app, render_template
from flask_login import login_required

from ..mail import MailboxTransport

bp = Blueprint("mailbox", __name__, url_prefix="/mailbox")


@bp.before_request
@login_required
def require_mailbox():
    """Only organisers, and only when mail is kept locally instead of sent."""
    if current_app.config["MAIL_TRANSPORT"] != "mailbox":
        abort(404)


def _box() -> MailboxTransport:
    return MailboxTransport(current_app.config["MAIL_MAILBOX_DIR"])


def _read(name: str):
    try:
        raw = _box().read(name)
    except (FileNotFoundError, ValueError):
        abort(404)
    return BytesParser(policy=policy.default).parsebytes(raw)


@bp.get("/")
def index():
    return render_template("mailbox/index.html", mails=_box().list())


@bp.get("/<name>")
def show(name: str):
    message = _read(name)
    text = message.get_body(preferencelist=("plain",))
    return render_template("mailbox/show.html", name=name, message=message, text=text.get_content() if text else "")


@bp.get("/<name>/invite.ics")
def calendar(name: str):
    message = _read(name)
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return Response(part.get_payload(decode=True), mimetype="text/calendar", headers={"Content-Disposition": "attachment; filename=invite.ics"})
    abort(404)
