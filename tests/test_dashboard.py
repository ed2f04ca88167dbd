"""The dashboard: the first page after login, its empty state, funnels, rounds to review, what needs attention, statements."""

import re
from datetime import UTC, datetime, time, timedelta

import pytest

from planner.extensions import db
from planner.models import (
    Answer,
    EventKind,
    EventStatus,
    Invitation,
    MailState,
    OutgoingMail,
    SeatingPlan,
    Series,
)
from tests.helpers import PASSWORD, csrf_from, statements


def sent(event, answers, make_person, deadline_in=None):
    """Mark the event sent with one invitation per answer; deadline_in moves its deadline from now."""
    event.status, event.sent_at = EventStatus.SENT, datetime.now(UTC)
    if deadline_in is not None:
        event.rsvp_deadline_at = datetime.now(UTC) + deadline_in
    for answer in answers:
        person = make_person()
        db.session.add(Invitation(event_id=event.id, person_id=person.id, token_hash=f"t{event.id}-{person.id}", answer=answer))
    db.session.commit()
    return event


def make_series(organiser):
    series = Series(kind=EventKind.LUNCH, title="Monthly mixer", start_time=time(12), end_time=time(13), timezone="UTC",
                    capacity=8, rrule="FREQ=MONTHLY;BYDAY=1TU", starts_on=datetime.now(UTC).date(), organiser_id=organiser.id)
    db.session.add(series)
    db.session.commit()
    return series


def board(client) -> str:
    response = client.get("/dashboard/")
    assert response.status_code == 200
    return response.data.decode()


def test_the_front_page_and_the_login_lead_to_the_dashboard(client, make_organiser):
    organiser = make_organiser()
    assert client.get("/").headers["Location"].endswith("/dashboard/")
    assert "/auth/login" in client.get("/dashboard/").headers["Location"]
    page = client.get("/auth/login")
    form = {"email": organiser.email, "password": PASSWORD, "csrf_token": csrf_from(page.data)}
    response = client.post("/auth/login", data=form)
    assert response.headers["Location"] == "/dashboard/"
    assert client.get("/events/").status_code == 200


def test_a_new_installation_says_what_to_do_first(client, login):
    login()
    page = board(client)
    assert "Welcome: nothing is planned yet" in page
    for link in ("/people/import", "/events/new?kind=lunch", "/series/new"):
        assert f'href="{link}"' in page
    assert "Nothing is coming up" in page and "No round is waiting for your review" in page


def test_upcoming_events_show_their_reply_funnel(client, login, make_event, make_person):
    organiser = login()
    answers = [Answer.YES, Answer.YES, Answer.NO, Answer.MAYBE, Answer.WAITLIST, Answer.PENDING, Answer.PENDING, Answer.PENDING]
    event = sent(make_event(organiser=organiser, capacity=10, title="Big lunch", days_ahead=9), answers, make_person)
    withdrawn = db.session.get(Invitation, event.invitations[0].id)
    withdrawn.cancelled_at = datetime.now(UTC)
    db.session.commit()
    page = board(client)
    assert "Welcome" not in page
    row = re.search(r"Big lunch</a>.*?</tr>", page, re.S).group()
    cells = re.findall(r"<td>(\d+)</td>", row)
    assert cells == ["7", "1", "1", "1", "1", "3"]  # invited, yes, no, maybe, waiting, no answer


def test_draft_rounds_of_series_wait_for_review(client, login, make_event):
    organiser = login()
    series = make_series(organiser)
    draft = make_event(organiser=organiser, title="Mixer round", days_ahead=12)
    draft.series_id = series.id
    make_event(organiser=organiser, title="One-off draft", days_ahead=5)
    page = board(client)
    reviews = re.search(r'id="reviews".*?</table>', page, re.S).group()
    assert "Review Mixer round" in reviews and "Monthly mixer" in reviews and "One-off draft" not in reviews


def test_trouble_needs_attention(client, login, make_event, make_person):
    organiser = login()
    mailed = sent(make_event(organiser=organiser, title="Mailed lunch", days_ahead=20), [Answer.PENDING], make_person)
    for n, state in enumerate([MailState.FAILED, MailState.FAILED, MailState.RETRY, MailState.SENT]):
        db.session.add(OutgoingMail(message_id=f"<m{n}@t>", event_id=mailed.id, sender="p@t", recipient="x@t", subject="s",
                                    raw=b"", state=state))
    bounced = db.session.get(Invitation, mailed.invitations[0].id)
    bounced.bounced_at, bounced.bounce_reason = datetime.now(UTC), "550 no such user"
    closing = sent(make_event(organiser=organiser, title="Closing lunch", capacity=8, days_ahead=4),
                   [Answer.YES, Answer.YES, Answer.PENDING, Answer.PENDING, Answer.NO], make_person,
                   deadline_in=timedelta(hours=30))
    calm = [Answer.YES, Answer.YES, Answer.NO, Answer.PENDING]
    sent(make_event(organiser=organiser, title="Calm lunch", capacity=2, days_ahead=4), calm, make_person,
         deadline_in=timedelta(hours=30))
    sent(make_event(organiser=organiser, title="Far lunch", capacity=8, days_ahead=9), [Answer.PENDING], make_person,
         deadline_in=timedelta(days=5))
    page = board(client)
    attention = re.search(r'<ul class="attention".*?</ul>', page, re.S).group()
    assert "2 messages for Mailed lunch could not be sent." in attention
    assert "1 message for Mailed lunch will be tried again." in attention
    assert "1 invitation to Mailed lunch bounced" in attention
    assert "Closing lunch: 6 free seats" in attention
    assert "Closing lunch: 2 of 5 invitations unanswered" in attention
    assert "Calm lunch" not in attention and "Far lunch" not in attention
    assert f'href="/events/{closing.id}"' in attention


@pytest.mark.parametrize(("plan", "expected"), [(None, "no seating plan yet"), ("draft", "not published"), ("published", None)])
def test_tomorrows_events_of_more_than_one_table_need_a_seating_plan(client, login, make_event, make_person, plan, expected):
    organiser = login()
    def tomorrows(title, yes):
        event = make_event(organiser=organiser, title=title, capacity=20, days_ahead=1, timezone="UTC", deadline=False)
        event.starts_at = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(12), tzinfo=UTC)
        event.ends_at = event.starts_at + timedelta(hours=1)
        return sent(event, [Answer.YES] * yes, make_person, deadline_in=-timedelta(hours=1))

    tomorrow = tomorrows("Tomorrow's lunch", 9)
    tomorrows("Small lunch", 8)
    if plan:
        db.session.add(SeatingPlan(event_id=tomorrow.id, published_at=datetime.now(UTC) if plan == "published" else None))
        db.session.commit()
    page = board(client)
    if expected:
        assert f"Tomorrow&#39;s lunch is tomorrow with 9 attendees: {expected}" in page.replace("its seating plan is ", "")
    else:
        assert "is tomorrow with" not in page
    assert "Small lunch is tomorrow" not in page


def test_the_dashboard_costs_the_same_statements_for_2_or_20_events(client, login, make_event, make_person):
    organiser = login()
    series = make_series(organiser)

    def add(count, start):
        for n in range(start, start + count):
            event = make_event(organiser=organiser, title=f"Lunch {n}", days_ahead=1 + n % 3, timezone="UTC", capacity=8,
                               deadline=False)
            if n % 2:
                event.series_id = series.id
                db.session.commit()
            else:
                sent(event, [Answer.YES] * 9 + [Answer.PENDING] * 2, make_person, deadline_in=timedelta(hours=20))
                db.session.add(OutgoingMail(message_id=f"<m{n}@t>", event_id=event.id, sender="p@t", recipient="x@t",
                                            subject="s", raw=b"", state=MailState.FAILED))
                db.session.commit()

    add(2, 0)
    with statements() as few:
        page_few = board(client)
    organiser = db.session.merge(organiser)
    series = db.session.merge(series)
    add(18, 2)
    with statements() as many:
        page_many = board(client)
    assert page_many.count("could not be sent") > page_few.count("could not be sent") >= 1
    assert len(few) == len(many) == 8
