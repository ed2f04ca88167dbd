"""The Demo mailbox: on a demo installation, organisers read here what would have been mailed."""

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, render_template
from sqlalchemy import select

from ..config import mailbox_shown
from ..extensions import db
from ..mail import MailboxTransport
from ..models import Event, OutgoingMail
from .views import organisers_only

bp = Blueprint("mailbox", __name__, url_prefix="/mailbox")

#: the HTML part of a stored mail, shown in a sandboxed frame: no scripts, no plugins, no forms, nothing fetched
#: from elsewhere; inline styles only, as mail clients allow
MAIL_HTML_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)


organisers_only(bp)


@bp.before_request
def require_mailbox():
    """Only where the mailbox is shown: it holds every invitee's RSVP link."""
    if not mailbox_shown(current_app.config):
        abort(404)


@bp.after_request
def not_stored(response: Response) -> Response:
    """RSVP links must not stay in a browser's or a proxy's cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _box() -> MailboxTransport:
    return MailboxTransport(current_app.config["MAIL_MAILBOX_DIR"])


def _read(name: str) -> EmailMessage:
    try:
        raw = _box().read(name)
    except (FileNotFoundError, ValueError):
        abort(404)
    return BytesParser(policy=policy.default).parsebytes(raw)


def _zones(message_ids: list[str]) -> dict[str, ZoneInfo]:
    """Map each Message-ID to the timezone of the event its mail is about (one query)."""
    if not message_ids:
        return {}
    query = (
        select(OutgoingMail.message_id, Event.timezone)
        .join(Event, OutgoingMail.event_id == Event.id)
        .where(OutgoingMail.message_id.in_(message_ids))
    )
    return {message_id: ZoneInfo(zone) for message_id, zone in db.session.execute(query)}


def _local(moment: datetime | None, zone: ZoneInfo | None) -> datetime | None:
    """Show a mail's date in its event's timezone, or in DEFAULT_TIMEZONE for mail about no event."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone or ZoneInfo(current_app.config["DEFAULT_TIMEZONE"]))


def _date(message: EmailMessage) -> datetime | None:
    try:
        return parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        return None


@bp.get("/")
def index():
    mails = _box().list()
    zones = _zones([mail.message_id for mail in mails if mail.message_id])
    dates = [_local(mail.date, zones.get(mail.message_id)) for mail in mails]
    return render_template("mailbox/index.html", rows=list(zip(mails, dates)))


@bp.get("/<name>")
def show(name: str):
    message = _read(name)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    message_id = str(message.get("Message-ID", ""))
    sent = _local(_date(message), _zones([message_id] if message_id else []).get(message_id))
    return render_template(
        "mailbox/show.html",
        name=name,
        message=message,
        sent=sent,
        text=text.get_content() if text else "",
        has_html=html is not None,
    )


@bp.get("/<name>/html")
def html(name: str):
    """The HTML part alone, for the sandboxed frame on the message page."""
    part = _read(name).get_body(preferencelist=("html",))
    if part is None:
        abort(404)
    response = Response(part.get_content(), mimetype="text/html")
    response.headers["Content-Security-Policy"] = MAIL_HTML_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.get("/<name>/invite.ics")
def calendar(name: str):
    message = _read(name)
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            disposition = {"Content-Disposition": "attachment; filename=invite.ics"}
            return Response(part.get_payload(decode=True), mimetype="text/calendar", headers=disposition)
    abort(404)
