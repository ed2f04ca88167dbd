"""What organisers hear: a mail per answer, a daily digest, or nothing; alerts when an event fills or everyone answered."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from planner.extensions import db
from planner.mailer import mail_settings
from planner.models import Digest, DigestMode, EventAlert, MailState, Organiser, OutgoingMail, utcnow
from planner.services.rsvp import record_answer
from tests.helpers import csrf_from, sent_event


def send(app, now) -> str:
    result = app.test_cli_runner().invoke(args=["reminders", "send", "--now", now.isoformat()])
    db.session.expire_all()
    assert result.exit_code == 0, result.output
    return result.output


def next_noon(app) -> datetime:
    """The next 12:00 on the installation's wall clock (whose date keys the daily digest): a run then and one a minute
    later fall on the same digest day whatever the time the test runs at."""
    zone = ZoneInfo(app.config["DEFAULT_TIMEZONE"])
    local = utcnow().astimezone(zone)
    noon = datetime.combine(local.date(), time(12), tzinfo=zone)
    return noon if noon > local else datetime.combine(local.date() + timedelta(days=1), time(12), tzinfo=zone)


def to_organiser(smtp_server, organiser_email: str) -> list:
    return [received.message for received in smtp_server.messages if received.recipients == [organiser_email]]


def answer(invitation, word: str) -> None:
    record_answer(db.session, invitation, word, utcnow(), settings=mail_settings())
    db.session.commit()


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


@pytest.fixture
def lunch(smtp_app, smtp_server, make_person, make_event):
    """Four people invited to a lunch with four seats by the organiser boss@example.com (logged in on the client)."""
    client, event, _link = sent_event(smtp_app, smtp_server, make_person, make_event, 4)
    smtp_server.clear()
    smtp_app.config["DIGEST_HOUR"] = 0  # the daily digest is due at any hour of the test's day
    return client, event


def set_digest(event, mode: DigestMode) -> None:
    event.organiser.digest = mode
    db.session.commit()


def test_each_answer_is_mailed_to_an_organiser_who_wants_each_once(smtp_app, smtp_server, lunch):
    _client, event = lunch
    set_digest(event, DigestMode.EACH)
    first, second = event.invitations[:2]
    answer(first, "yes")
    answer(second, "no")
    second.comment = "On holiday"
    db.session.commit()
    assert "2 answer notices" in send(smtp_app, utcnow())
    mails = to_organiser(smtp_server, "boss@example.com")
    assert sorted(mail["Subject"] for mail in mails) == sorted(
        [f"{first.person.name} answered yes: Team lunch", f"{second.person.name} answered no: Team lunch"]
    )
    assert all(f"http://planner.test/events/{event.id}" in text_of(mail) for mail in mails)
    assert "On holiday" in text_of(next(mail for mail in mails if "answered no" in mail["Subject"]))
    assert "0 answer notices" in send(smtp_app, utcnow())
    answer(second, "yes")  # a changed answer is news again
    assert "1 answer notices" in send(smtp_app, utcnow())
    assert not any("digest" in mail["Subject"] for mail in to_organiser(smtp_server, "boss@example.com"))


def test_the_daily_digest_sums_up_answers_promotions_bounces_and_mail_problems(smtp_app, smtp_server, lunch):
    _client, event = lunch
    event.capacity = 2
    db.session.commit()
    first, second, third, fourth = event.invitations
    answer(first, "yes")
    answer(second, "yes")
    answer(third, "yes")  # the waiting list
    answer(first, "no")  # third moves up
    fourth.bounced_at, fourth.bounce_reason = utcnow(), "550 mailbox unavailable"
    failed = db.session.scalars(select(OutgoingMail).where(OutgoingMail.invitation_id == fourth.id)).first()
    failed.state, failed.last_error = MailState.FAILED, "550 mailbox unavailable"
    db.session.commit()
    smtp_server.clear()
    noon = next_noon(smtp_app)
    assert "1 digests" in send(smtp_app, noon)
    (digest,) = [mail for mail in to_organiser(smtp_server, "boss@example.com") if "digest" in mail["Subject"]]
    text = text_of(digest)
    answers = text.split("New answers:")[1].split("From the waiting list")[0]
    assert f"{first.person.name}: no" in answers and f"{second.person.name}: yes" in answers
    assert f"{third.person.name}: yes" in answers
    assert third.person.name in text.split("From the waiting list to a seat:")[1].split("Bounced")[0]
    assert f"{fourth.person.name} <{fourth.person.email}>: 550 mailbox unavailable" in text
    assert f"to {fourth.person.email}: failed (550 mailbox unavailable)" in text
    assert f"http://planner.test/events/{event.id}" in text
    assert third.person.name in digest.get_body(preferencelist=("html",)).get_content()
    assert "0 digests" in send(smtp_app, noon + timedelta(minutes=1)), "one digest per day"
    assert len([m for m in to_organiser(smtp_server, "boss@example.com") if "digest" in m["Subject"]]) == 1


def test_a_quiet_day_is_settled_without_a_mail_and_the_next_digest_starts_where_the_last_ended(smtp_app, smtp_server, lunch):
    _client, event = lunch
    answer(event.invitations[0], "yes")
    send(smtp_app, utcnow() + timedelta(minutes=1))
    smtp_server.clear()
    assert "1 digests" in send(smtp_app, utcnow() + timedelta(days=1))
    assert to_organiser(smtp_server, "boss@example.com") == []
    days = db.session.execute(select(Digest.kind, Digest.mail_id.is_(None))).all()
    assert sorted(days) == [("daily", False), ("daily", True)]


def test_an_organiser_with_the_digest_off_gets_no_mail(smtp_app, smtp_server, lunch):
    _client, event = lunch
    set_digest(event, DigestMode.OFF)
    for invitation in event.invitations:
        answer(invitation, "yes")
    smtp_server.clear()
    output = send(smtp_app, utcnow() + timedelta(minutes=1))
    assert "0 answer notices" in output and "0 digests" in output
    assert to_organiser(smtp_server, "boss@example.com") == []
    assert db.session.scalar(select(func.count(EventAlert.id))) == 2, "the alerts are settled, without mail"
    assert db.session.scalar(select(func.count(EventAlert.id)).where(EventAlert.mail_id.is_not(None))) == 0


def test_one_alert_when_the_event_fills_and_one_when_everyone_has_answered(smtp_app, smtp_server, lunch):
    _client, event = lunch
    event.capacity = 2
    db.session.commit()
    first, second, third, fourth = event.invitations
    answer(first, "yes")
    assert "0 alerts" in send(smtp_app, utcnow())
    answer(second, "yes")
    assert "1 alerts" in send(smtp_app, utcnow())
    answer(third, "no")
    assert "0 alerts" in send(smtp_app, utcnow()), "the fourth has not answered"
    answer(fourth, "maybe")
    assert "1 alerts" in send(smtp_app, utcnow())
    answer(second, "no")
    answer(second, "yes")
    assert "0 alerts" in send(smtp_app, utcnow()), "each alert once per event"
    leads = ("Full: Team lunch on ", "Everyone has answered: Team lunch on ")
    alerts = [mail for mail in to_organiser(smtp_server, "boss@example.com") if mail["Subject"].startswith(leads)]
    assert sorted(mail["Subject"].split(" Team lunch")[0] for mail in alerts) == ["Everyone has answered:", "Full:"]
    full = next(mail for mail in alerts if mail["Subject"].startswith("Full:"))
    assert "All 2 seats of Team lunch" in text_of(full)


def test_the_notifications_page_changes_the_setting_with_csrf(smtp_app, lunch):
    client, event = lunch
    page = client.get("/account/notifications")
    assert page.status_code == 200 and b'value="daily" checked' in page.data
    assert client.post("/account/notifications", data={"digest": "each"}).status_code == 400, "no CSRF token"
    token = csrf_from(page.data)
    response = client.post("/account/notifications", data={"digest": "each", "csrf_token": token}, follow_redirects=True)
    assert b"Notifications saved." in response.data and b'value="each" checked' in response.data
    organiser = db.session.scalar(select(Organiser).where(Organiser.email == "boss@example.com"))
    assert organiser.digest == DigestMode.EACH and organiser.digest_since is not None
    response = client.post("/account/notifications", data={"digest": "hourly", "csrf_token": token}, follow_redirects=True)
    assert b"Choose a daily digest" in response.data
    db.session.expire_all()
    assert db.session.get(Organiser, organiser.id).digest == DigestMode.EACH
    assert smtp_app.test_client().get("/account/notifications").status_code == 302, "organisers only"


def test_answers_from_before_the_setting_changed_are_not_announced(smtp_app, smtp_server, lunch):
    _client, event = lunch
    answer(event.invitations[0], "yes")
    event.organiser.digest, event.organiser.digest_since = DigestMode.EACH, utcnow()
    db.session.commit()
    assert "0 answer notices" in send(smtp_app, utcnow())
