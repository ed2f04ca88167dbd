"""Automatic backfill: a decline with nobody waiting becomes an offer to the fairest replacement, held for a while."""

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from planner.extensions import db
from planner.mailer import mail_settings
from planner.models import Answer, Event, Invitation, MailState, OutgoingMail, Person, ProposalEntry, Series, utcnow
from planner.services.backfill import backfill_state
from planner.services.capacity import seat_count
from planner.services.invites import send_invites
from planner.services.mails import SEAT_LEAD
from planner.services.rsvp import record_answer
from tests.helpers import calendar_of, client_reply, csrf_from, ingest_cli, parse_mail, rsvp_link

ROOT = Path(__file__).resolve().parents[1]


def backfilling_event(make_person, make_event, *, invited=3, others=4, capacity=3, days_ahead=7, offer_hours=None,
                      organiser=None):
    """An event that backfills itself, sent to `invited` people of one department, with `others` of it left to offer to."""
    people = [make_person(name=f"Invited {i}", department="Sales", level=1) for i in range(invited)]
    [make_person(name=f"Other {i}", department="Sales", level=1) for i in range(others)]
    event = make_event(capacity=capacity, days_ahead=days_ahead, organiser=organiser)
    event.is_auto_backfill, event.offer_hours = True, offer_hours
    for person in people:
        event.proposals.append(ProposalEntry(person=person, reason="test"))
    send_invites(db.session, event, mail_settings())
    db.session.commit()
    return event


def answer(invitation_id: int, value: str, now=None) -> None:
    invitation = db.session.get(Invitation, invitation_id)
    record_answer(db.session, invitation, value, now or utcnow(), settings=mail_settings())
    db.session.commit()


def run(app, now=None) -> str:
    args = ["offers", "expire"] + (["--now", now.isoformat()] if now else [])
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    return result.output


def invitations(event) -> list[Invitation]:
    db.session.expire_all()
    return list(db.session.scalars(select(Invitation).where(Invitation.event_id == event.id).order_by(Invitation.id)))


def offers(event) -> list[Invitation]:
    return [inv for inv in invitations(event) if inv.offer_expires_at is not None]


def mails_to(invitation: Invitation) -> list:
    query = select(OutgoingMail.raw).where(OutgoingMail.invitation_id == invitation.id).order_by(OutgoingMail.id)
    raws = db.session.scalars(query)
    return [parse_mail(raw) for raw in raws]


def test_a_decline_with_nobody_waiting_is_offered_at_once_held_for_the_offer_hours(app, make_person, make_event):
    event = backfilling_event(make_person, make_event)
    first = invitations(event)[0]
    now = utcnow()
    answer(first.id, "no", now)
    [offer] = offers(event)  # made by the decline itself, in its transaction
    assert offer.person.name.startswith("Other") and offer.answer == Answer.PENDING
    assert offer.offer_expires_at == now + timedelta(hours=48)
    entry = db.session.scalar(select(ProposalEntry).where(ProposalEntry.person_id == offer.person_id))
    assert entry.reason == f"in place of {first.person.name} <{first.person.email}>"
    [mail] = mails_to(offer)
    assert mail["Subject"].startswith("A seat for you:")
    text = mail.get_body(preferencelist=("plain",)).get_content()
    held = offer.offer_expires_at.astimezone(ZoneInfo(event.timezone))
    assert f"held for you until {held:%d %B %Y, %H:%M} ({event.timezone})" in text
    assert calendar_of(mail)[0] == "REQUEST", "an offer can be answered from the calendar too"
    assert "0 offers expired, 0 offers made." in run(app, now), "the periodic run offers nothing more"
    assert len(offers(event)) == 1


def test_the_waiting_list_comes_before_any_offer(app, make_person, make_event):
    event = backfilling_event(make_person, make_event, capacity=2)
    first, second, third = invitations(event)
    for invitation in (first, second, third):
        answer(invitation.id, "yes")
    assert invitations(event)[2].answer == Answer.WAITLIST
    answer(first.id, "no")
    assert invitations(event)[2].answer == Answer.YES, "the waiting person got the seat at the decline"
    assert "0 offers made" in run(app)
    assert offers(event) == []


def test_an_unanswered_offer_expires_and_goes_to_the_next_person(app, make_person, make_event):
    event = backfilling_event(make_person, make_event, offer_hours=6)
    first = invitations(event)[0]
    now = utcnow()
    answer(first.id, "no", now)
    [offer] = offers(event)
    assert offer.offer_expires_at == now + timedelta(hours=6)
    assert "0 offers expired" in run(app, now + timedelta(hours=5)), "not before its time"
    assert "1 offer expired, 1 offer made." in run(app, now + timedelta(hours=6, minutes=1))
    expired, passed_on = offers(event)
    assert expired.id == offer.id and expired.cancelled_at is not None
    assert calendar_of(mails_to(expired)[-1])[0] == "CANCEL", "the calendar entry of an expired offer is withdrawn"
    assert passed_on.cancelled_at is None and passed_on.person_id != expired.person_id
    entry = db.session.scalar(select(ProposalEntry).where(ProposalEntry.person_id == passed_on.person_id))
    assert entry.reason == f"in place of {first.person.name} <{first.person.email}>"


def test_an_answered_offer_is_kept_and_answers_through_the_link(app, client, make_person, make_event):
    event = backfilling_event(make_person, make_event)
    now = utcnow()
    answer(invitations(event)[0].id, "no", now)
    [offer] = offers(event)
    link = rsvp_link(mails_to(offer)[0])
    page = client.get(link)
    assert client.post(link, data={"csrf_token": csrf_from(page.data), "answer": "yes"}).status_code == 303
    assert "0 offers expired, 0 offers made." in run(app, now + timedelta(days=3))
    [kept] = offers(event)
    assert kept.answer == Answer.YES and kept.cancelled_at is None


def test_an_offer_is_never_held_beyond_the_answer_deadline(app, make_person, make_event):
    event = backfilling_event(make_person, make_event, days_ahead=2)
    answer(invitations(event)[0].id, "no")
    [offer] = offers(event)
    assert offer.offer_expires_at == event.rsvp_deadline_at


def test_an_event_without_automatic_backfill_makes_no_offer(app, make_person, make_event):
    event = backfilling_event(make_person, make_event)
    event.is_auto_backfill = False
    db.session.commit()
    answer(invitations(event)[0].id, "no")
    assert "0 offers made" in run(app)
    assert offers(event) == []


def test_the_offer_goes_to_whose_turn_it_is(app, make_person, make_event):
    event = backfilling_event(make_person, make_event, others=0)
    rested = make_person(name="Rested", department="Sales", level=1)
    busy = make_person(name="Busy", department="Sales", level=1)
    earlier = make_event(days_ahead=3, title="Earlier lunch")
    earlier.proposals.append(ProposalEntry(person=busy, reason="test"))
    send_invites(db.session, earlier, mail_settings())
    db.session.commit()
    answer(invitations(event)[0].id, "no")
    assert [offer.person_id for offer in offers(event)] == [rested.id]


def test_the_event_page_lists_offers_and_their_expiry(app, client, login, make_person, make_event):
    organiser = login()
    people = [make_person(name=f"Invited {i}", department="Sales") for i in range(2)] + [make_person(name="Olga Offer")]
    event = make_event(organiser=organiser, capacity=2)
    event.is_auto_backfill = True
    for person in people[:2]:
        event.proposals.append(ProposalEntry(person=person, reason="test"))
    send_invites(db.session, event, mail_settings())
    db.session.commit()
    answer(invitations(event)[0].id, "no")
    page = client.get(f"/events/{event.id}").data.decode()
    [offer] = offers(event)
    assert 'id="offer-list"' in page and "Olga Offer" in page
    assert f"{offer.offer_expires_at.astimezone(ZoneInfo(event.timezone)):%d %b %Y, %H:%M}" in page


def test_two_runs_at_once_pass_an_expired_offer_on_once(app, make_person, make_event, tmp_path):
    event = backfilling_event(make_person, make_event, offer_hours=1)
    now = utcnow() - timedelta(hours=2)
    answer(invitations(event)[0].id, "no", now)
    [first_offer] = offers(event)
    assert first_offer.offer_expires_at < utcnow(), "the offer the two runs find has expired"
    environment = {**os.environ, "PLANNER_INSTANCE_PATH": str(tmp_path / "cli"),
                   "PLANNER_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                   "PLANNER_SECRET_KEY": app.config["SECRET_KEY"], "PLANNER_MAIL_SEND_AFTER_COMMIT": "false"}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "offers", "expire"]
    runs = [subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(2)]
    outputs = [process.communicate(timeout=120)[0].decode() for process in runs]
    assert all(process.returncode == 0 for process in runs), outputs
    assert sorted("1 offer expired, 1 offer made" in output for output in outputs) == [False, True], outputs
    expired, passed_on = offers(event)
    assert expired.id == first_offer.id and expired.cancelled_at is not None
    assert passed_on.cancelled_at is None and passed_on.person_id != expired.person_id
    assert db.session.scalar(select(Person).where(Person.id == passed_on.person_id)).name.startswith("Other")


def test_the_organiser_turns_automatic_backfill_on_for_an_event_and_a_series(client, login):
    login()
    page = client.get("/events/new?kind=lunch")
    data = {
        "csrf_token": csrf_from(page.data), "kind": "lunch", "title": "Refilled lunch", "description": "", "location": "",
        "day": (date.today() + timedelta(days=10)).isoformat(), "start": "12:00", "end": "13:00",
        "timezone": "Europe/Berlin", "capacity": "8", "rsvp_deadline": "", "is_auto_backfill": "y", "offer_hours": "24",
    }
    assert client.post("/events/new", data=data).status_code == 302
    event = db.session.scalar(select(Event).where(Event.title == "Refilled lunch"))
    assert event.is_auto_backfill and event.offer_hours == 24
    refused = client.post("/events/new", data={**data, "offer_hours": "0"})
    assert refused.status_code == 400 and b"from 1 to 720 hours" in refused.data
    series_page = client.get("/series/new")
    series_data = {
        "csrf_token": csrf_from(series_page.data), "kind": "lunch", "title": "Refilled series", "start": "12:00", "end": "13:00",
        "timezone": "Europe/Berlin", "capacity": "4", "frequency": "weekly", "interval": "1", "weekday": "2", "nth": "1",
        "month_day": "1", "starts_on": (date.today() + timedelta(days=3)).isoformat(), "ends": "never", "deadline_hours": "48",
        "plan_days_ahead": "14", "send_mode": "review", "planning_mode": "fair", "is_auto_backfill": "y",
    }
    assert client.post("/series/new", data=series_data).status_code == 302
    series = db.session.scalar(select(Series).where(Series.title == "Refilled series"))
    assert series.is_auto_backfill and series.offer_hours is None


def answers_of(event) -> dict[str, Answer]:
    return {inv.person.name: inv.answer for inv in invitations(event) if inv.cancelled_at is None}


def test_a_decline_by_link_offers_the_seat_at_once_with_its_mail_in_the_outbox(app, client, make_person, make_event):
    event = backfilling_event(make_person, make_event)
    first = invitations(event)[0]
    link = rsvp_link(mails_to(first)[0])
    page = client.get(link)
    assert client.post(link, data={"csrf_token": csrf_from(page.data), "answer": "no"}).status_code == 303
    [offer] = offers(event)
    assert offer.answer == Answer.PENDING and offer.person.name.startswith("Other")
    [mail] = mails_to(offer)
    assert mail["Subject"].startswith("A seat for you:")
    assert "0 offers expired, 0 offers made." in run(app), "the periodic run finds the seat already offered"


def test_a_decline_by_calendar_reply_offers_the_seat_at_once(app, make_person, make_event):
    event = backfilling_event(make_person, make_event)
    first = invitations(event)[0]
    raw = db.session.scalar(select(OutgoingMail.raw).where(OutgoingMail.invitation_id == first.id))
    code, output = ingest_cli(app, client_reply(raw, "DECLINED", "away that week"))
    assert code == 0, output
    assert invitations(event)[0].answer == Answer.NO
    [offer] = offers(event)
    assert offer.person.name.startswith("Other") and mails_to(offer)


def offer_holding_the_last_seat(make_person, make_event):
    """A backfilling event whose first invitee declined (an offer holds that seat) and whose other two said yes."""
    event = backfilling_event(make_person, make_event)
    first, second, third = invitations(event)
    answer(first.id, "no")
    [offer] = offers(event)
    answer(second.id, "yes")
    answer(third.id, "yes")
    return event, first, offer


def test_an_open_offer_holds_its_seat_against_other_yes_answers(app, make_person, make_event):
    event, first, offer = offer_holding_the_last_seat(make_person, make_event)
    assert seat_count(db.session, event).free == 0 and seat_count(db.session, event).held == 1
    answer(first.id, "yes")
    assert invitations(event)[0].answer == Answer.WAITLIST, "the seat left is held by the offer"
    answer(offer.id, "yes")
    assert db.session.get(Invitation, offer.id).answer == Answer.YES, "the person offered takes the held seat"
    count = seat_count(db.session, event)
    assert (count.taken, count.waiting, count.held) == (3, 1, 0)


def test_an_expired_offer_holds_nothing_and_its_seat_goes_to_the_waiting_list(app, make_person, make_event):
    event = backfilling_event(make_person, make_event, offer_hours=2)
    first, second, third = invitations(event)
    now = utcnow()
    answer(first.id, "no", now)
    [offer] = offers(event)
    answer(second.id, "yes", now)
    answer(third.id, "yes", now)
    answer(first.id, "yes", now)
    assert invitations(event)[0].answer == Answer.WAITLIST
    assert "1 offer expired, 0 offers made." in run(app, now + timedelta(hours=3)), "the waiting list comes before an offer"
    assert invitations(event)[0].answer == Answer.YES
    assert db.session.get(Invitation, offer.id).cancelled_at is not None
    assert seat_count(db.session, event).taken == 3


def test_an_offer_turned_down_goes_to_the_next_person_at_once(app, make_person, make_event):
    event = backfilling_event(make_person, make_event)
    answer(invitations(event)[0].id, "no")
    [offer] = offers(event)
    answer(offer.id, "no")
    turned_down, passed_on = offers(event)
    assert turned_down.answer == Answer.NO and passed_on.answer == Answer.PENDING
    assert passed_on.person_id != turned_down.person_id


def test_a_decline_nobody_can_replace_shows_so_and_is_offered_once_someone_is(app, client, login, make_person, make_event):
    organiser = login()
    event = backfilling_event(make_person, make_event, others=0, organiser=organiser)
    first = invitations(event)[0]
    answer(first.id, "no")
    assert offers(event) == []
    row = _answer_row(client, event, first.person.email)
    assert "no replacement available" in row and "replaced by" not in row
    make_person(name="Late Joiner", department="Sales", level=1)
    assert "0 offers expired, 1 offer made." in run(app)
    [offer] = offers(event)
    assert offer.person.name == "Late Joiner"
    row = _answer_row(client, event, first.person.email)
    assert "replaced by Late Joiner" in row and "no replacement available" not in row


def test_an_expired_offer_with_nobody_next_leaves_the_decline_honestly_unreplaced(app, client, login, make_person, make_event):
    organiser = login()
    event = backfilling_event(make_person, make_event, others=1, offer_hours=1, organiser=organiser)
    first = invitations(event)[0]
    now = utcnow()
    answer(first.id, "no", now)
    assert len(offers(event)) == 1
    assert "1 offer expired, 0 offers made." in run(app, now + timedelta(hours=2))
    db.session.expire_all()
    state = backfill_state(db.session.get(Event, event.id), now)
    assert first.person_id not in state.replaced_by, "a withdrawn offer replaced nobody"
    assert [inv.id for inv in state.replaceable] == [first.id] and state.open_seats == 1
    row = _answer_row(client, event, first.person.email)
    assert "no replacement available" in row and "replaced by" not in row
    make_person(name="Late Joiner", department="Sales", level=1)
    assert "0 offers expired, 1 offer made." in run(app, now + timedelta(hours=2))
    assert [inv.person.name for inv in offers(event) if inv.cancelled_at is None] == ["Late Joiner"]


def _answer_row(client, event, email: str) -> str:
    page = client.get(f"/events/{event.id}").data.decode()
    start = page.index(f'<tr data-email="{email}"')
    return page[start:page.index("</tr>", start)]


def test_an_open_offer_given_up_by_link_sends_the_seat_to_the_waiting_list_at_once(smtp_app, smtp_server, make_person,
                                                                                    make_event):
    """A held seat given up with "maybe" frees it for the waiting list; a request that sends what it queued delivers that
    mail at once (the page used to deliver only after a yes given up or a decline)."""
    event, first, offer = offer_holding_the_last_seat(make_person, make_event)
    answer(first.id, "yes")
    assert invitations(event)[0].answer == Answer.WAITLIST
    client = smtp_app.test_client()
    link = rsvp_link(mails_to(offer)[0])
    before = len(smtp_server.messages)
    response = client.post(link, data={"csrf_token": csrf_from(client.get(link).data), "answer": "maybe"})
    assert response.status_code == 303
    assert invitations(event)[0].answer == Answer.YES
    # every mail of the event queued so far goes out with it (the invitations and the offer were only queued)
    seat_mails = [received.message for received in smtp_server.messages[before:]
                  if received.message["Subject"].startswith(SEAT_LEAD)]
    assert [message["To"].addresses[0].addr_spec for message in seat_mails] == [first.person.email]
    waiting = select(OutgoingMail.id).where(OutgoingMail.event_id == event.id, OutgoingMail.state != MailState.SENT)
    assert db.session.scalars(waiting).all() == []
