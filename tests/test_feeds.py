"""Calendar feeds: an organiser's private feed (rotate, revoke) and a person's opt-in feed, checked with icalendar."""

import re
from datetime import UTC, datetime, timedelta

import icalendar
from sqlalchemy import select

from planner.extensions import db
from planner.ical import EventInfo, FeedItem, build_feed
from planner.models import CalendarFeed, EventStatus, Organiser, utcnow
from tests.helpers import csrf_from, log_in, propose_and_send, sent_event, staff, statements


def feed_path(html: bytes) -> str:
    match = re.search(rb'value="https?://[^/"]+(/feeds/[A-Za-z0-9_-]+\.ics)"', html)
    assert match, html
    return match.group(1).decode()


def vevents(response):
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    calendar = icalendar.Calendar.from_ical(response.data)
    assert "METHOD" not in calendar
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def start_feed(client, settings="/settings/feed"):
    page = client.get(settings)
    client.post(settings, data={"csrf_token": csrf_from(page.data), "action": "start"})
    return feed_path(client.get(settings).data)


def test_an_organiser_feed_lists_their_sent_and_cancelled_events_once_each(app, client, make_person, make_event):
    organiser = log_in(client)
    staff(make_person, 6)
    sent, cancelled, draft = (make_event(organiser=organiser, title=title) for title in ("Sent lunch", "Off lunch", "Draft"))
    propose_and_send(client, sent)
    propose_and_send(client, cancelled)
    other = make_event(title="Someone else's")
    other.status = EventStatus.SENT
    cancelled.status = EventStatus.CANCELLED
    db.session.commit()
    assert b"Make my calendar feed" in client.get("/settings/feed").data
    path = start_feed(client)
    events = vevents(app.test_client().get(path))
    assert set(events) == {sent.uid, cancelled.uid}
    assert str(events[cancelled.uid]["STATUS"]) == "CANCELLED" and str(events[sent.uid]["STATUS"]) == "CONFIRMED"
    assert str(events[sent.uid]["SUMMARY"]) == "Sent lunch"
    assert events[sent.uid].decoded("DTSTART") == sent.starts_at
    again = vevents(app.test_client().get(path))
    assert set(again) == set(events)  # UIDs are stable
    token = path.rsplit("/", 1)[1].removesuffix(".ics")
    assert db.session.scalar(select(CalendarFeed.token_hash)) != token and len(token) >= 32  # 192 bits, hash stored


def test_rotating_invalidates_the_old_url_and_revoking_ends_the_feed(app, client, make_person, make_event):
    log_in(client)
    old = start_feed(client)
    page = client.get("/settings/feed")
    client.post("/settings/feed", data={"csrf_token": csrf_from(page.data), "action": "rotate"})
    new = feed_path(client.get("/settings/feed").data)
    assert new != old
    reader = app.test_client()
    assert reader.get(old).status_code == 404 and reader.get(new).status_code == 200
    client.post("/settings/feed", data={"csrf_token": csrf_from(page.data), "action": "revoke"})
    assert reader.get(new).status_code == 404
    assert reader.get(new[:-5] + "x.ics").status_code == 404
    assert client.post("/settings/feed", data={"action": "start"}).status_code == 400  # CSRF
    assert app.test_client().get("/settings/feed").status_code == 302  # organisers only


def test_a_person_opts_in_from_their_rsvp_page_and_can_revoke(smtp_app, smtp_server, make_person, make_event):
    client, event, link = sent_event(smtp_app, smtp_server, make_person, make_event, 3)
    invitee = smtp_app.test_client()
    rsvp = invitee.get(link)
    token = link.rsplit("/", 1)[1]
    assert f"/feeds/mine/{token}".encode() in rsvp.data
    mine = f"/feeds/mine/{token}"
    page = invitee.get(mine)
    assert page.status_code == 200 and b"Turn my calendar feed on" in page.data
    assert db.session.scalar(select(CalendarFeed.id)) is None  # off until asked (GET changes nothing)
    invitee.post(mine, data={"csrf_token": csrf_from(page.data), "action": "start"})
    path = feed_path(invitee.get(mine).data)
    events = vevents(smtp_app.test_client().get(path))
    assert list(events) == [event.uid]
    invitee.post(mine, data={"csrf_token": csrf_from(page.data), "action": "revoke"})
    assert smtp_app.test_client().get(path).status_code == 404
    assert invitee.get("/feeds/mine/" + "A" * 32).status_code == 404


def test_a_withdrawn_invitation_shows_as_cancelled_in_the_persons_feed(smtp_app, smtp_server, make_person, make_event):
    client, event, link = sent_event(smtp_app, smtp_server, make_person, make_event, 2)
    invitee = smtp_app.test_client()
    mine = "/feeds/mine/" + link.rsplit("/", 1)[1]
    page = invitee.get(mine)
    invitee.post(mine, data={"csrf_token": csrf_from(page.data), "action": "start"})
    path = feed_path(invitee.get(mine).data)
    for invitation in event.invitations:
        invitation.cancelled_at = utcnow()
    db.session.commit()
    assert str(vevents(smtp_app.test_client().get(path))[event.uid]["STATUS"]) == "CANCELLED"


def test_build_feed_gives_one_vevent_per_item_and_one_vtimezone_per_zone():
    start = datetime(2027, 3, 1, 11, tzinfo=UTC)
    infos = [
        EventInfo(uid=f"e{n}@x", sequence=n, summary=f"Lunch {n}", description="", location="",
                  starts_at=start + timedelta(days=n), ends_at=start + timedelta(days=n, hours=1), timezone=zone,
                  organizer_email="o@x", organizer_name="O")
        for n, zone in enumerate(["Europe/Berlin", "Europe/Berlin", "UTC"])
    ]
    ics = build_feed([FeedItem(info, n == 1) for n, info in enumerate(infos)], name="Feed\nname", stamp=start)
    calendar = icalendar.Calendar.from_ical(ics)
    assert [str(e["UID"]) for e in calendar.walk("VEVENT")] == ["e0@x", "e1@x", "e2@x"]
    assert [str(e["STATUS"]) for e in calendar.walk("VEVENT")] == ["CONFIRMED", "CANCELLED", "CONFIRMED"]
    assert [str(z["TZID"]) for z in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert str(calendar["X-WR-CALNAME"]) == "Feed name"
    assert build_feed([], name="Empty", stamp=start).count(b"BEGIN:VEVENT") == 0




def test_a_feed_costs_the_same_statements_whatever_the_number_of_events(app, client, make_person, make_event):
    organiser_id = log_in(client).id
    path = start_feed(client)
    reader = app.test_client()
    counts = []
    for extra in (1, 3):
        for number in range(extra):
            event = make_event(organiser=db.session.get(Organiser, organiser_id), title=f"Lunch {extra}-{number}")
            event.status = EventStatus.SENT
        db.session.commit()
        with statements() as executed:
            assert reader.get(path).status_code == 200
        counts.append(len(executed))
    assert counts[0] == counts[1] <= 4
