"""What organisers hear: a mail per answer, a daily digest, or nothing; alerts when an event fills or everyone answered."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from planner.extensions import db
from planner.mailer import mail_settings
from planner.models import (
    Digest,
    DigestMode,
    EventAlert,
    EventKind,
    MailState,
    Organiser,
    OrganiserRole,
    OutgoingMail,
    Series,
    utcnow,
)
from planner.services.digest import due_alerts, due_answer_notices, due_daily, send_alert, send_answer_notice
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


@pytest.fixture
def team(lunch, make_organiser):
    """The lunch's owner (also listed among its co-organisers), co-organisers of the lunch who want each answer, a daily
    digest and nothing, one who co-organises the lunch's series, and an organiser of none who wants each answer."""
    _client, event = lunch
    owner = event.organiser
    each, daily, off, of_series, other = (make_organiser(f"{name}@example.com", name.title(), role=OrganiserRole.ORGANISER)
                                          for name in ("each", "daily", "off", "series", "other"))
    daily.digest, off.digest = DigestMode.DAILY, DigestMode.OFF
    owner.digest = each.digest = of_series.digest = other.digest = DigestMode.EACH
    series = Series(kind=EventKind.LUNCH, title="Monthly lunch", capacity=4, start_time=time(12), end_time=time(13),
                    timezone="Europe/Berlin", rrule="FREQ=MONTHLY", starts_on=date.today(), organiser_id=owner.id)
    db.session.add(series)
    db.session.flush()
    event.series_id, event.occurrence_on = series.id, date.today()
    event.co_organisers.extend([owner, each, daily, off])
    series.co_organisers.extend([of_series, each])
    db.session.commit()
    return {"owner": owner, "each": each, "daily": daily, "off": off, "series": of_series, "other": other}


def mails_to(smtp_server, team: dict, part: str) -> dict[str, list[str]]:
    """Return the subjects with this part that each team member received, by their role in the team."""
    return {role: sorted(mail["Subject"] for mail in to_organiser(smtp_server, organiser.email) if part in mail["Subject"])
            for role, organiser in team.items()}


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


def test_co_organisers_of_the_event_or_its_series_who_want_each_get_each_answer_once(smtp_app, smtp_server, lunch, team):
    _client, event = lunch
    first = event.invitations[0]
    answer(first, "yes")
    smtp_server.clear()
    assert "3 answer notices" in send(smtp_app, utcnow())
    notice = f"{first.person.name} answered yes: Team lunch"
    notices = mails_to(smtp_server, team, " answered ")
    assert notices == {"owner": [notice], "each": [notice], "daily": [], "off": [], "series": [notice], "other": []}
    assert "0 answer notices" in send(smtp_app, utcnow())
    recorded = db.session.execute(select(Digest.organiser_id).where(Digest.kind == "answer", Digest.mail_id.is_not(None)))
    assert sorted(recorded.scalars()) == sorted(team[role].id for role in ("owner", "each", "series"))


def test_two_runs_at_once_announce_each_answer_once_per_organiser(smtp_app, smtp_server, lunch, team):
    _client, event = lunch
    answer(event.invitations[0], "yes")
    now, settings = utcnow(), mail_settings()
    first_run, second_run = due_answer_notices(db.session, now), due_answer_notices(db.session, now)
    assert sorted(organiser_id for organiser_id, _invitation, _key in first_run) == sorted(
        team[role].id for role in ("owner", "each", "series"))
    assert [send_answer_notice(db.session, *row, now, settings) for row in first_run] == [True] * 3
    db.session.commit()
    assert [send_answer_notice(db.session, *row, now, settings) for row in second_run] == [False] * 3
    db.session.commit()
    assert db.session.scalar(select(func.count(OutgoingMail.id)).where(OutgoingMail.subject.contains(" answered "))) == 3


def test_alerts_reach_every_organiser_whose_digest_is_on_once(smtp_app, smtp_server, lunch, team):
    _client, event = lunch
    event.capacity = 2
    db.session.commit()
    first, second, third, fourth = event.invitations
    answer(first, "yes")
    answer(second, "yes")
    smtp_server.clear()
    assert "1 alerts" in send(smtp_app, utcnow())
    full = mails_to(smtp_server, team, "Full: ")["owner"]
    assert len(full) == 1
    alerts = mails_to(smtp_server, team, "Full: ")
    assert alerts == {"owner": full, "each": full, "daily": full, "off": [], "series": full, "other": []}
    owner_mail = db.session.scalar(select(EventAlert.mail_id))
    assert db.session.get(OutgoingMail, owner_mail).recipient == "boss@example.com", "the alert records the owner's mail"
    team["owner"].digest = DigestMode.OFF
    db.session.commit()
    answer(third, "no")
    answer(fourth, "no")
    now = utcnow()
    first_run, second_run = due_alerts(db.session, now), due_alerts(db.session, now)
    assert [send_alert(db.session, *row, now, mail_settings()) for row in first_run] == [True]
    db.session.commit()
    assert [send_alert(db.session, *row, now, mail_settings()) for row in second_run] == [False], "two runs at once"
    db.session.commit()
    assert "0 alerts" in send(smtp_app, utcnow())
    counts = {role: len(subjects) for role, subjects in mails_to(smtp_server, team, "Everyone has answered: ").items()}
    assert counts == {"owner": 0, "each": 1, "daily": 1, "off": 0, "series": 1, "other": 0}


def test_a_deactivated_organiser_gets_no_notice_alert_or_digest(smtp_app, smtp_server, lunch, team):
    _client, event = lunch
    team["each"].is_active = team["daily"].is_active = False
    event.capacity = 1
    db.session.commit()
    answer(event.invitations[0], "yes")
    smtp_server.clear()
    assert team["daily"].id not in due_daily(db.session, utcnow(), hour=0, timezone="Europe/Berlin")
    send(smtp_app, utcnow())
    assert mails_to(smtp_server, team, " answered ")["each"] == []
    assert mails_to(smtp_server, team, "Full: ")["each"] == mails_to(smtp_server, team, "Full: ")["daily"] == []
    assert mails_to(smtp_server, team, "igest")["daily"] == []
    assert mails_to(smtp_server, team, "Full: ")["series"] and mails_to(smtp_server, team, " answered ")["series"]
