"""Private calendar feeds: an organiser's events, or one person's invitations, behind a revocable token.

A feed keeps a random seed; its URL's token is HMAC-SHA256 of the secret key over "feed:" and that seed
(so the settings page can show the URL again), and only the token's SHA-256 is looked up. Rotating gives
a new seed (the old URL stops working); revoking deletes the feed.
"""

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from ..ical import EventInfo, FeedItem, build_feed
from ..models import CalendarFeed, Event, EventStatus, Invitation, Organiser, Person
from ..text import one_line
from ..tokens import TOKEN_BYTES, TokenError, hash_token, new_seed
from .ownership import involved_events

#: how far back a feed reaches
FEED_DAYS_BACK = 365
SHOWN = (EventStatus.SENT, EventStatus.CANCELLED)


def feed_token(feed: CalendarFeed, secret: str | bytes) -> str:
    """Return the token in a feed's URL, rebuilt from its seed and the secret key."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    digest = hmac.new(key, f"feed:{feed.token_seed}".encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:TOKEN_BYTES]).decode("ascii")


def feed_of(session: Session, *, organiser: Organiser | None = None, person: Person | None = None) -> CalendarFeed | None:
    """Return the organiser's or the person's feed, or None when they have none."""
    column, owner = (CalendarFeed.organiser_id, organiser) if organiser is not None else (CalendarFeed.person_id, person)
    return session.scalar(select(CalendarFeed).where(column == owner.id))


def new_feed(session: Session, secret: str | bytes, *, organiser: Organiser | None = None, person: Person | None = None) -> str:
    """Start a feed, or rotate it (the old URL stops working); return the new token."""
    revoke_feed(session, organiser=organiser, person=person)
    feed = CalendarFeed(
        organiser_id=organiser.id if organiser is not None else None,
        person_id=person.id if person is not None else None,
        token_seed=new_seed(),
        token_hash="",
    )
    token = feed_token(feed, secret)
    feed.token_hash = hash_token(token)
    session.add(feed)
    session.flush()
    return token


def revoke_feed(session: Session, *, organiser: Organiser | None = None, person: Person | None = None) -> None:
    """Delete the organiser's or the person's feed (its URL stops working)."""
    column, owner = (CalendarFeed.organiser_id, organiser) if organiser is not None else (CalendarFeed.person_id, person)
    session.execute(delete(CalendarFeed).where(column == owner.id))
    session.flush()


def find_feed(session: Session, token: str) -> CalendarFeed:
    """Return the feed a token opens; raise TokenError when none does."""
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == hash_token(token)))
    if feed is None:
        raise TokenError.invalid()
    return feed


def feed_calendar(session: Session, feed: CalendarFeed, now: datetime, *, event_url) -> bytes:
    """Return the feed's calendar: the sent and cancelled events the organiser owns or co-organises, or the person's
    invitations."""
    since = now - timedelta(days=FEED_DAYS_BACK)
    if feed.organiser_id is not None:
        organiser = session.get(Organiser, feed.organiser_id)
        events = session.scalars(
            select(Event)
            .where(involved_events(organiser.id), Event.status.in_(SHOWN), Event.starts_at >= since)
            .options(joinedload(Event.organiser))
            .order_by(Event.starts_at, Event.id)
        )
        items = [FeedItem(_info(event, event_url(event)), event.status == EventStatus.CANCELLED) for event in events]
        return build_feed(items, name=f"Team Planner: events of {organiser.name}", stamp=now)
    person = session.get(Person, feed.person_id)
    invitations = session.scalars(
        select(Invitation)
        .join(Event, Event.id == Invitation.event_id)
        .where(Invitation.person_id == person.id, Event.status.in_(SHOWN), Event.starts_at >= since)
        .options(joinedload(Invitation.event).joinedload(Event.organiser))
        .order_by(Event.starts_at, Event.id)
    )
    items = [
        FeedItem(_info(invitation.event, None),
                 invitation.event.status == EventStatus.CANCELLED or invitation.cancelled_at is not None)
        for invitation in invitations
    ]
    return build_feed(items, name=f"Team Planner: invitations of {person.name}", stamp=now)


def _info(event: Event, url: str | None) -> EventInfo:
    return EventInfo(
        uid=event.uid, sequence=event.sequence, summary=one_line(event.title), description=event.description,
        location=one_line(event.location), starts_at=event.starts_at, ends_at=event.ends_at, timezone=event.timezone,
        organizer_email=event.organiser.email, organizer_name=one_line(event.organiser.name), url=url,
    )
