"""Calendar feeds: the feed itself (token in the URL, no login), the organiser's settings, and a person's opt-in page."""

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..extensions import db
from ..forms import ActionForm
from ..models import utcnow
from ..services import audit, feeds
from ..services.rsvp import find_invitation
from ..tokens import TokenError
from .rsvp import PRIVATE_PAGE
from .views import audited, organisers_only

bp = Blueprint("feeds", __name__, url_prefix="/feeds")
settings_bp = Blueprint("feed_settings", __name__, url_prefix="/settings")

organisers_only(settings_bp)

CALENDAR_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def _feed_url(token: str) -> str:
    return f"{current_app.config['BASE_URL'].rstrip('/')}{url_for('feeds.calendar', token=token)}"


def _secret():
    return current_app.config["SECRET_KEY"]


@bp.get("/<token>.ics")
def calendar(token: str):
    try:
        feed = feeds.find_feed(db.session, token)
    except TokenError:
        abort(404)
    base = current_app.config["BASE_URL"].rstrip("/")
    body = feeds.feed_calendar(
        db.session, feed, utcnow(), event_url=lambda event: f"{base}{url_for('events.detail', event_id=event.id)}"
    )
    return Response(body, content_type="text/calendar; charset=utf-8", headers=CALENDAR_HEADERS)


@settings_bp.get("/feed")
def feed_settings():
    feed = feeds.feed_of(db.session, organiser=current_user)
    url = _feed_url(feeds.feed_token(feed, _secret())) if feed else None
    return render_template("feeds/settings.html", url=url, form=ActionForm())


@settings_bp.post("/feed")
def change_feed():
    if not ActionForm().validate_on_submit():
        abort(400)
    if request.form.get("action") == "revoke":
        feeds.revoke_feed(db.session, organiser=current_user)
        audited("feed.revoke", ("organiser", current_user.id))
        flash("Your calendar feed is turned off; its address no longer works.", "success")
    else:
        feeds.new_feed(db.session, _secret(), organiser=current_user)
        audited("feed.new", ("organiser", current_user.id))
        flash("Your calendar feed has a new address; the old one no longer works.", "success")
    db.session.commit()
    return redirect(url_for("feed_settings.feed_settings"), code=303)


def _invitation(token: str):
    try:
        return find_invitation(db.session, token)
    except TokenError:
        abort(404)


@bp.get("/mine/<token>")
def person_feed(token: str):
    person = _invitation(token).person
    feed = feeds.feed_of(db.session, person=person)
    url = _feed_url(feeds.feed_token(feed, _secret())) if feed else None
    page = render_template("feeds/person.html", person=person, url=url, token=token, form=ActionForm())
    return page, 200, PRIVATE_PAGE


@bp.post("/mine/<token>")
def change_person_feed(token: str):
    person = _invitation(token).person
    if not ActionForm().validate_on_submit():
        abort(400)
    if request.form.get("action") == "revoke":
        feeds.revoke_feed(db.session, person=person)
        audit.record(db.session, "feed.revoke", actor=audit.INVITEE, subject=("person", person.id))
        flash("Your calendar feed is turned off; its address no longer works.", "success")
    else:
        feeds.new_feed(db.session, _secret(), person=person)
        audit.record(db.session, "feed.new", actor=audit.INVITEE, subject=("person", person.id))
        flash("Your calendar feed is ready: add its address to your calendar.", "success")
    db.session.commit()
    return redirect(url_for("feeds.person_feed", token=token), code=303)
