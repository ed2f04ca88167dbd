"""The running app's mail: its settings for composing messages, and delivery once a request has committed."""

from flask import current_app, flash

from .config import sends_at_once
from .extensions import db
from .mail import transport_from_config
from .outbox import DeliveryReport, deliver, lease_from_config
from .services.mails import MailSettings
from .text import plural


def mail_settings() -> MailSettings:
    """Return what composing mail needs in the running app: its addresses, its secret key and its templates."""
    config = current_app.config
    return MailSettings(
        base_url=config["BASE_URL"],
        sender=config["MAIL_FROM"],
        sender_name=config["MAIL_FROM_NAME"],
        reply_domain=config["REPLY_DOMAIN"],
        secret_key=config["SECRET_KEY"],
        templates=current_app.jinja_env,
        offer_hours=config["OFFER_HOURS"],
        lookback_days=config["LOOKBACK_DAYS"],
    )


def deliver_event_mail(event_id: int) -> DeliveryReport:
    """Send the event's queued mail now through the configured transport, under the configured outbox lease."""
    config = current_app.config
    return deliver(db.session, transport_from_config(config), event_id=event_id, lease=lease_from_config(config))


def deliver_now(event_id: int) -> None:
    """Send the event's queued mail now and flash what happened."""
    report = deliver_event_mail(event_id)
    if report.errors:
        flash(f"Mail server problem: {report.errors[-1]}. The messages stay queued and will be retried.", "error")
    elif report.sent:
        flash(f"{plural(report.sent, 'message')} sent.", "success")
    if report.failed:
        refused = "was" if report.failed == 1 else "were"
        flash(f"{plural(report.failed, 'message')} {refused} refused by the mail server; see below.", "error")


def deliver_after_commit(event_id: int) -> None:
    """Send the mail an action just queued when config.sends_at_once says so; otherwise the outbox worker sends it."""
    if sends_at_once(current_app.config):
        deliver_now(event_id)
