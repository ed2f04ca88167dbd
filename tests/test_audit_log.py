"""The audit log through the real pages: each change records one entry with its actor, action and object; a refused change
records nothing; answers are recorded without notes; the admin page filters, pages and exports the log."""

import csv
import io
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from planner.blueprints.views import committed_or_shown
from planner.errors import PlannerError
from planner.extensions import db
from planner.mailer import mail_settings
from planner.models import (
    Answer,
    AuditEntry,
    Event,
    EventKind,
    EventStatus,
    Invitation,
    OrganiserRole,
    OutgoingMail,
    ProposalEntry,
    Question,
    Series,
    utcnow,
)
from planner.recurrence import Pattern
from planner.services import audit, seating
from planner.services import series as series_service
from planner.services.invites import send_invites
from planner.services.rsvp import record_answer
from planner.services.series import SeriesDraft
from planner.tokens import new_token
from tests.helpers import PASSWORD, csrf_from, form_values, propose_and_send, staff, statements

ROOT = Path(__file__).resolve().parents[1]
GOOD_CSV = b"email,name,department,level\nann@example.com,Ann Lee,Sales,Senior\nbob@example.com,Bob Ray,Engineering,Junior\n"


def mark() -> int:
    """The newest entry's id (0 for an empty log): what a step adds comes after it."""
    return db.session.scalar(select(func.max(AuditEntry.id))) or 0


def added(since: int) -> list[tuple]:
    """Return (actor, action, object type, object id, summary) of every entry after `since`, oldest first."""
    db.session.expire_all()
    query = select(AuditEntry.actor, AuditEntry.action, AuditEntry.subject_type, AuditEntry.subject_id, AuditEntry.summary)
    return [tuple(row) for row in db.session.execute(query.where(AuditEntry.id > since).order_by(AuditEntry.id))]


def only(since: int) -> tuple:
    """Return the one entry added after `since` (and fail when there are none or more)."""
    entries = added(since)
    assert len(entries) == 1, entries
    return entries[0]


def token_of(client) -> str:
    return csrf_from(client.get("/events/").data)


def post(client, url: str, **data):
    return client.post(url, data={"csrf_token": token_of(client), **data})


@pytest.fixture
def organiser(client, login):
    return login()


def sent(client, make_person, make_event, organiser, count=6, capacity=4):
    """A sent event of organiser's with count people proposed and capacity seats; return it."""
    staff(make_person, count)
    event = make_event(organiser=organiser, capacity=capacity)
    assert propose_and_send(client, event).status_code == 302
    db.session.refresh(event)
    return event


def invitations(event) -> list[Invitation]:
    db.session.expire_all()
    return list(db.session.scalars(select(Invitation).where(Invitation.event_id == event.id).order_by(Invitation.id)))


# --- logins ---------------------------------------------------------------------------------------


def test_logins_failed_logins_and_logouts_are_recorded_without_the_password(client, make_organiser):
    organiser = make_organiser()
    page = client.get("/auth/login")
    before = mark()
    wrong = client.post("/auth/login", data={"email": " Org@Example.com", "password": "a wrong guess", "csrf_token": csrf_from(page.data)})
    assert wrong.status_code == 401
    entry = only(before)
    assert entry == (audit.VISITOR, "auth.login_failed", None, None, "org@example.com: Wrong email or password.")
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.summary.contains("guess"))) == 0
    before = mark()
    right = client.post("/auth/login", data={"email": organiser.email, "password": PASSWORD, "csrf_token": csrf_from(page.data)})
    assert right.status_code == 302
    assert only(before)[:4] == (organiser.email, "auth.login", "organiser", organiser.id)
    assert db.session.scalar(select(AuditEntry.remote_addr).order_by(AuditEntry.id.desc()).limit(1)) == "127.0.0.1"
    before = mark()
    assert client.post("/auth/logout", data={}).status_code == 400  # no CSRF token: still logged in, nothing recorded
    assert added(before) == []
    assert post(client, "/auth/logout").status_code == 302
    assert only(before)[:4] == (organiser.email, "auth.logout", "organiser", organiser.id)


# --- events ---------------------------------------------------------------------------------------


def test_creating_sending_editing_and_cancelling_an_event_record_one_entry_each(client, organiser, make_person, make_event):
    page = client.get("/events/new?kind=lunch")
    day = date.today() + timedelta(days=10)
    data = {"csrf_token": csrf_from(page.data), "kind": "lunch", "title": "Friday lunch", "description": "Pizza", "location": "Canteen",
            "day": day.isoformat(), "start": "12:00", "end": "13:00", "timezone": "Europe/Berlin", "capacity": "8",
            "rsvp_deadline": f"{(day - timedelta(days=2)).isoformat()}T17:00"}
    before = mark()
    assert client.post("/events/new", data={**data, "title": "Bad\r\nBcc: x"}).status_code == 400
    assert added(before) == []
    response = client.post("/events/new", data=data)
    assert response.status_code == 302
    event_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert only(before) == (organiser.email, "event.create", "event", event_id, "Friday lunch")

    before = mark()
    assert post(client, f"/events/{event_id}/send").status_code == 302  # nobody proposed: refused
    assert added(before) == []
    staff(make_person, 6)
    assert post(client, f"/events/{event_id}/propose").status_code == 302
    assert only(before)[:4] == (organiser.email, "proposal.propose", "event", event_id)
    before = mark()
    assert post(client, f"/events/{event_id}/send").status_code == 302
    assert only(before) == (organiser.email, "event.send", "event", event_id, "6 invitations")

    event = db.session.get(Event, event_id)
    before = mark()
    values = form_values(event, location="Roof terrace")
    assert post(client, f"/events/{event_id}/edit/confirm", **values).status_code == 302
    assert only(before)[:4] == (organiser.email, "event.edit", "event", event_id)
    before = mark()
    assert post(client, f"/events/{event_id}/delete").status_code == 302  # a sent event cannot be deleted
    assert added(before) == []
    assert post(client, f"/events/{event_id}/cancel").status_code == 302
    assert only(before) == (organiser.email, "event.cancel", "event", event_id, "6 cancellations queued")


def test_deleting_a_draft_is_recorded(client, organiser, make_event):
    event = make_event(organiser=organiser, title="Spare lunch")
    before = mark()
    assert post(client, f"/events/{event.id}/delete").status_code == 302
    assert only(before) == (organiser.email, "event.delete", "event", event.id, "Spare lunch")


def test_proposal_changes_record_the_person_by_id(client, organiser, make_person, make_event):
    people = staff(make_person, 8)
    event = make_event(organiser=organiser, capacity=4)
    assert post(client, f"/events/{event.id}/propose").status_code == 302
    proposed = [entry.person_id for entry in event.proposals]
    outside = next(person for person in people if person.id not in proposed)
    steps = [
        ("add", {"email": outside.email}, "proposal.add", f"person {outside.id}"),
        ("must", {"person_id": str(proposed[0]), "is_must": "1"}, "proposal.must", f"person {proposed[0]}: must"),
        ("remove", {"person_id": str(proposed[1])}, "proposal.remove", f"person {proposed[1]}"),
        ("remove", {"person_id": str(proposed[2]), "exclude": "1"}, "proposal.exclude", f"person {proposed[2]}"),
        ("allow", {"person_id": str(proposed[2])}, "proposal.allow", f"person {proposed[2]}"),
        ("planning-mode", {"mode": "even"}, "event.planning_mode", "even"),
    ]
    for path, data, action, summary in steps:
        before = mark()
        assert post(client, f"/events/{event.id}/{path}", **data).status_code == 302, path
        assert only(before) == (organiser.email, action, "event", event.id, summary)
    before = mark()
    assert post(client, f"/events/{event.id}/replace", person_id=str(proposed[3])).status_code == 302
    actor, action, kind, subject_id, summary = only(before)
    assert (actor, action, kind, subject_id) == (organiser.email, "proposal.replace", "event", event.id)
    assert summary.startswith(f"person {proposed[3]} by person ")
    before = mark()
    assert post(client, f"/events/{event.id}/add", email="nobody@example.com").status_code == 302  # refused
    assert post(client, f"/events/{event.id}/remove", person_id="999999").status_code in (302, 404)
    assert added(before) == []
    assert all(person.name not in "".join(row[4] for row in added(0)) for person in people)


def test_withdrawing_and_replacing_invitations_is_recorded(client, organiser, make_person, make_event):
    event = sent(client, make_person, make_event, organiser, count=8, capacity=4)
    first, second = invitations(event)[:2]
    before = mark()
    assert post(client, f"/events/{event.id}/invitations/{first.id}/uninvite").status_code == 302
    assert only(before)[:4] == (organiser.email, "invitation.withdraw", "invitation", first.id)
    before = mark()
    assert post(client, f"/events/{event.id}/invitations/{first.id}/uninvite").status_code == 302  # already withdrawn
    assert added(before) == []
    second.answer = Answer.NO
    second.answered_at = utcnow()
    db.session.commit()
    assert post(client, f"/events/{event.id}/invitations/{second.id}/replacement").status_code == 302
    actor, action, kind, subject_id, summary = only(before)
    assert (actor, action, kind, subject_id) == (organiser.email, "invitation.replace", "invitation", second.id)
    assert re.fullmatch(r"by person \d+", summary)
    before = mark()
    assert post(client, f"/events/{event.id}/invitations/{second.id}/replacement").status_code == 302  # replaced already
    assert added(before) == []


def test_backfill_resend_and_the_feedback_switch_are_recorded(client, organiser, make_person, make_event):
    event = sent(client, make_person, make_event, organiser, count=8, capacity=4)
    declined = invitations(event)[0]
    declined.answer, declined.answered_at = Answer.NO, utcnow()
    db.session.commit()
    before = mark()
    assert post(client, f"/events/{event.id}/backfill").status_code == 302
    assert only(before) == (organiser.email, "invitation.backfill", "event", event.id, "1 replacement")
    before = mark()
    assert post(client, f"/events/{event.id}/backfill").status_code == 302  # no decline left to replace
    assert added(before) == []
    mail = db.session.scalar(select(OutgoingMail).where(OutgoingMail.event_id == event.id).limit(1))
    assert post(client, f"/events/{event.id}/mail/{mail.id}/resend").status_code == 302
    assert only(before)[:4] == (organiser.email, "mail.resend", "mail", mail.id)
    before = mark()
    assert post(client, f"/events/{event.id}/feedback/switch", is_on="1").status_code == 302
    assert only(before) == (organiser.email, "feedback.switch", "event", event.id, "on")


def test_expired_offers_are_recorded_once_per_event_by_the_command(app, make_person, make_event):
    people = [make_person(department="Sales") for _ in range(5)]
    event = make_event(capacity=2)
    event.is_auto_backfill = True
    for person in people[:2]:
        event.proposals.append(ProposalEntry(person=person, reason="test"))
    send_invites(db.session, event, mail_settings())
    db.session.commit()
    first = invitations(event)[0]
    record_answer(db.session, first, "no", utcnow(), settings=mail_settings())  # the offer goes out with the decline
    db.session.commit()
    offered = db.session.scalar(select(Invitation).where(Invitation.offer_expires_at.is_not(None)))
    later = (offered.offer_expires_at + timedelta(minutes=1)).isoformat()
    before = mark()
    assert app.test_cli_runner().invoke(args=["offers", "expire", "--now", later]).exit_code == 0
    assert only(before) == (audit.COMMAND_LINE, "offer.run", "event", event.id, "1 offer expired, 1 offer made")
    before = mark()
    assert app.test_cli_runner().invoke(args=["offers", "expire", "--now", later]).exit_code == 0
    assert added(before) == []  # nothing to do, nothing recorded


# --- answers --------------------------------------------------------------------------------------


def test_an_answer_is_recorded_as_the_invitee_without_the_note(client, make_person, make_event):
    event = make_event(capacity=1)
    event.status, event.sent_at = EventStatus.SENT, utcnow()
    tokens = {}
    for person in staff(make_person, 2):
        token, token_hash = new_token()
        invitation = Invitation(event=event, person=person, token_hash=token_hash)
        db.session.add(invitation)
        db.session.flush()
        tokens[invitation.id] = token
    db.session.commit()
    (first_id, first), (second_id, second) = sorted(tokens.items())
    for invitation_id, token, summary in ((first_id, first, "yes via link"), (second_id, second, "yes via link (waiting list)")):
        csrf = csrf_from(client.get(f"/rsvp/{token}").data)
        before = mark()
        response = client.post(f"/rsvp/{token}", data={"csrf_token": csrf, "answer": "yes", "comment": "Secret: I am vegan"})
        assert response.status_code == 303
        assert only(before) == (audit.INVITEE, "answer.record", "invitation", invitation_id, summary)
    before = mark()
    response = client.post(f"/rsvp/{first}", data={"csrf_token": csrf, "answer": "perhaps"})
    assert response.status_code == 400 and added(before) == []
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.summary.contains("vegan"))) == 0
    assert db.session.scalar(select(AuditEntry.organiser_id).where(AuditEntry.action == "answer.record").limit(1)) is None


def test_an_answer_by_calendar_reply_says_so(app, make_person, make_event):
    event = make_event()
    event.status, event.sent_at = EventStatus.SENT, utcnow()
    invitation = Invitation(event=event, person=make_person(), token_hash=new_token()[1])
    db.session.add(invitation)
    db.session.commit()
    before = mark()
    assert record_answer(db.session, invitation, "no", utcnow(), "a note", settings=mail_settings(), via="calendar reply")
    db.session.rollback()  # a rolled-back answer leaves no entry
    assert added(before) == []
    assert record_answer(db.session, invitation, "no", utcnow(), "a note", settings=mail_settings(), via="calendar reply")
    db.session.commit()
    assert only(before) == (audit.INVITEE, "answer.record", "invitation", invitation.id, "no via calendar reply")


def test_an_invitees_opt_out_and_feed_are_recorded_as_the_invitee(client, make_person, make_event):
    event = make_event()
    event.status, event.sent_at = EventStatus.SENT, utcnow()
    token, token_hash = new_token()
    invitation = Invitation(event=event, person=make_person(), token_hash=token_hash)
    db.session.add(invitation)
    db.session.commit()
    csrf = csrf_from(client.get(f"/rsvp/{token}/opt-out").data)  # a session's token (the answer form's is the invitation's)
    person_id = invitation.person_id
    for url, data, action in ((f"/feeds/mine/{token}", {"action": "start"}, "feed.new"),
                              (f"/feeds/mine/{token}", {"action": "revoke"}, "feed.revoke"),
                              (f"/rsvp/{token}/opt-out", {}, "person.opt_out")):
        before = mark()
        assert client.post(url, data={"csrf_token": csrf, **data}).status_code == 303, url
        assert only(before) == (audit.INVITEE, action, "person", person_id, "")
    before = mark()
    assert client.post(f"/rsvp/{token}/opt-out", data={}).status_code == 400
    assert added(before) == []


# --- people ---------------------------------------------------------------------------------------


def test_a_people_import_records_counts_only(client, organiser, app, tmp_path):
    token = csrf_from(client.get("/people/import").data)
    before = mark()
    response = client.post("/people/import", data={"csrf_token": token, "file": (io.BytesIO(b"nonsense\n"), "x.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and added(before) == []
    response = client.post("/people/import", data={"csrf_token": token, "file": (io.BytesIO(GOOD_CSV), "staff.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302 and added(before) == []  # staged, not imported yet
    location = response.headers["Location"]
    assert client.post(location, data={"csrf_token": csrf_from(client.get(location).data)}).status_code == 302
    assert only(before) == (organiser.email, "people.import", None, None, "2 new, 0 changed, 0 deactivated (upload)")
    path = tmp_path / "more.csv"
    path.write_bytes(GOOD_CSV + b"cy@example.com,Cy Cole,Legal,Junior\n")
    before = mark()
    assert app.test_cli_runner().invoke(args=["people", "import", str(path)]).exit_code == 0
    assert only(before) == (audit.COMMAND_LINE, "people.import", None, None, "1 new, 0 changed, 0 deactivated (command line)")
    path.write_bytes(GOOD_CSV + b"x@example.com,X,Sales,Wizard\n")
    assert app.test_cli_runner().invoke(args=["people", "import", str(path)]).exit_code != 0
    assert only(before)[4].startswith("1 new")
    assert not any(word in str(added(0)) for word in ("Ann", "ann@", "Cy Cole"))


def test_availability_changes_by_organisers_and_invitees_are_recorded(client, organiser, make_person, make_event):
    event = sent(client, make_person, make_event, organiser, count=4, capacity=4)
    person = invitations(event)[0].person
    before = mark()
    assert post(client, f"/people/{person.id}/leave", on_leave_until=(date.today() + timedelta(days=30)).isoformat()).status_code == 302
    assert only(before) == (organiser.email, "person.leave", "person", person.id, "on leave")
    before = mark()
    assert post(client, f"/people/{person.id}/leave", on_leave_until="not a date").status_code == 302
    assert added(before) == []
    assert post(client, f"/people/{person.id}/opt-in").status_code == 302
    assert only(before)[:4] == (organiser.email, "person.opt_in", "person", person.id)


# --- seating and attendance -----------------------------------------------------------------------


def test_seating_make_move_publish_and_record_are_recorded(client, organiser, app, make_person, make_event):
    app.config.update(SEATING_SECONDS=0.2, SEATING_INLINE=True)
    event = make_event(organiser=organiser, capacity=30, days_ahead=1, deadline=False)
    event.status, event.sent_at = EventStatus.SENT, utcnow()
    event.starts_at = utcnow() - timedelta(hours=1)
    for person in staff(make_person, 12):
        db.session.add(Invitation(event=event, person=person, token_hash=new_token()[1], answer=Answer.YES))
    db.session.commit()
    form = {"mode": "tables", "min_size": "6", "max_size": "8", "sizes": "", "w_department": "1", "w_level": "0.5",
            "w_new": "1", "seed": "3"}
    before = mark()
    assert post(client, f"/events/{event.id}/seating", **{**form, "min_size": "9", "max_size": "2"}).status_code == 400
    assert added(before) == []
    assert post(client, f"/events/{event.id}/seating", **form).status_code == 303
    assert only(before) == (organiser.email, "seating.make", "event", event.id, "seed 3")
    plan = seating.current_plan(db.session, event)
    person_id = plan.seats[0].person_id
    before = mark()
    assert post(client, f"/events/{event.id}/seating/plans/{plan.id}/move", person_id=str(person_id), table="2").status_code == 303
    assert only(before) == (organiser.email, "seating.move", "seating plan", plan.id, f"person {person_id} to table 2")
    before = mark()
    assert post(client, f"/events/{event.id}/seating/plans/{plan.id}/publish").status_code == 303
    assert only(before)[:4] == (organiser.email, "seating.publish", "seating plan", plan.id)
    before = mark()
    assert post(client, f"/events/{event.id}/seating/plans/{plan.id}/record").status_code == 303
    assert only(before)[:4] == (organiser.email, "seating.record", "event", event.id)
    before = mark()
    assert post(client, f"/events/{event.id}/attendance", no_show=str(plan.seats[1].person_id)).status_code == 302
    entry = only(before)
    assert entry[:4] == (organiser.email, "attendance.record", "event", event.id)


# --- series ---------------------------------------------------------------------------------------


def series_form(page: bytes, **changes) -> dict:
    data = {
        "csrf_token": csrf_from(page), "kind": "lunch", "title": "Monthly lunch", "description": "", "location": "Canteen",
        "start": "12:00", "end": "13:00", "timezone": "Europe/Berlin", "capacity": "4", "frequency": "weekly",
        "interval": "1", "weekday": "1", "nth": "1", "month_day": "1", "starts_on": (date.today() + timedelta(days=3)).isoformat(),
        "ends": "never", "until": "", "count": "", "deadline_hours": "48", "plan_days_ahead": "14",
        "send_mode": "review", "planning_mode": "fair",
    }
    data.update(changes)
    return data


def test_series_changes_are_recorded(client, organiser, make_person):
    staff(make_person, 8)
    page = client.get("/series/new")
    before = mark()
    assert client.post("/series/new", data=series_form(page.data, capacity="0")).status_code == 400
    assert added(before) == []
    assert client.post("/series/new", data=series_form(page.data)).status_code == 302
    series = db.session.scalar(select(Series))
    assert only(before) == (organiser.email, "series.create", "series", series.id, "Monthly lunch")
    before = mark()
    assert post(client, f"/series/{series.id}/plan").status_code == 302
    rounds = added(before)
    assert rounds and {row[:4] for row in rounds} == {(organiser.email, "series.round", "series", series.id)}
    db.session.expire_all()
    days = sorted(event.occurrence_on for event in series.events)
    before = mark()
    assert post(client, f"/series/{series.id}/move", day=days[0].isoformat(), new_day=(days[0] + timedelta(days=1)).isoformat()).status_code == 302
    assert only(before)[:4] == (organiser.email, "series.move", "series", series.id)
    before = mark()
    assert post(client, f"/series/{series.id}/skip", day=(days[-1] + timedelta(days=7)).isoformat()).status_code == 302
    assert only(before) == (organiser.email, "series.skip", "series", series.id, (days[-1] + timedelta(days=7)).isoformat())
    before = mark()
    assert post(client, f"/series/{series.id}/skip", day=(days[-1] + timedelta(days=8)).isoformat()).status_code == 302  # no date
    assert added(before) == []
    edit = series_form(client.get(f"/series/{series.id}/edit").data, capacity="6",
                       from_day=(days[-1] + timedelta(days=14)).isoformat())
    assert client.post(f"/series/{series.id}/edit", data=edit).status_code == 302
    assert only(before)[:4] == (organiser.email, "series.edit", "series", series.id)
    successor = db.session.scalar(select(Series).where(Series.id != series.id))
    before = mark()
    assert post(client, f"/series/{successor.id}/end").status_code == 302
    assert only(before)[:4] == (organiser.email, "series.end", "series", successor.id)


def test_series_run_from_the_command_line_records_each_round(app, make_organiser, make_person):
    staff(make_person, 8)
    organiser = make_organiser()
    start = date(2031, 3, 3)
    draft = SeriesDraft(kind=EventKind.LUNCH, title="Lunch",
                        description="", location="Canteen", capacity=4, start=time(12), end=time(13), timezone="Europe/Berlin",
                        pattern=Pattern("monthly_weekday", weekday=1, nth=1), starts_on=start, deadline_hours=48,
                        plan_days_ahead=14)
    series = series_service.create_series(db.session, organiser.id, draft, datetime(2031, 2, 1, tzinfo=UTC))
    db.session.commit()
    before = mark()
    now = datetime(2031, 2, 20, 8, tzinfo=UTC)
    assert app.test_cli_runner().invoke(args=["series", "run", "--now", now.isoformat()]).exit_code == 0
    actor, action, kind, subject_id, summary = only(before)
    assert (actor, action, kind, subject_id) == (audit.COMMAND_LINE, "series.round", "series", series.id)
    assert summary.startswith("round on 2031-03-04")
    before = mark()
    assert app.test_cli_runner().invoke(args=["series", "run", "--now", now.isoformat()]).exit_code == 0
    assert added(before) == []  # nothing new to do


# --- questions, exports, settings -----------------------------------------------------------------


def test_question_changes_and_every_download_are_recorded(client, organiser, make_person, make_event, app):
    event = sent(client, make_person, make_event, organiser, count=4, capacity=4)
    before = mark()
    assert post(client, f"/events/{event.id}/questions", label="", kind="text").status_code == 400
    assert added(before) == []
    assert post(client, f"/events/{event.id}/questions", label="T-shirt size?", kind="text").status_code == 303
    question = db.session.scalar(select(Question))
    assert only(before) == (organiser.email, "question.add", "question", question.id, f"event {event.id}")
    before = mark()
    assert post(client, f"/events/{event.id}/questions/{question.id}", label="Shirt size?", kind="text").status_code == 303
    assert only(before)[:4] == (organiser.email, "question.edit", "question", question.id)
    before = mark()
    assert post(client, f"/events/{event.id}/questions/{question.id}/delete").status_code == 303
    assert only(before)[:4] == (organiser.email, "question.delete", "question", question.id)
    downloads = [
        (f"/events/{event.id}/exports/attendees.csv", ("event", event.id, "attendees.csv")),
        (f"/events/{event.id}/exports/answers.csv", ("event", event.id, "answers.csv")),
        (f"/events/{event.id}/venue-list.csv", ("event", event.id, "venue-list.csv")),
        ("/people/directory.csv", (None, None, "directory.csv")),
    ]
    for url, (kind, subject_id, summary) in downloads:
        before = mark()
        assert client.get(url).status_code == 200, url
        assert only(before) == (organiser.email, "export.download", kind, subject_id, summary)
    before = mark()
    response = client.get("/analytics/headline.csv")
    assert response.status_code == 200
    assert only(before)[:3] == (organiser.email, "export.download", None)
    before = mark()
    assert client.get(f"/events/{event.id}/exports/secrets.csv").status_code == 404
    assert client.get(f"/events/{event.id}/exports/").status_code == 200  # a page, not a download
    assert added(before) == []


def test_settings_and_calendar_feed_changes_are_recorded(client, organiser, make_person, make_event):
    before = mark()
    assert post(client, "/account/notifications", digest="each").status_code == 302
    assert only(before) == (organiser.email, "account.notifications", "organiser", organiser.id, "each")
    before = mark()
    assert post(client, "/account/notifications", digest="hourly").status_code == 302
    assert added(before) == []
    assert post(client, "/settings/feed").status_code == 303
    assert only(before)[:4] == (organiser.email, "feed.new", "organiser", organiser.id)
    before = mark()
    assert post(client, "/settings/feed", action="revoke").status_code == 303
    assert only(before)[:4] == (organiser.email, "feed.revoke", "organiser", organiser.id)


def test_the_page_actions_that_change_nothing_record_nothing(client, organiser, make_person, make_event):
    event = sent(client, make_person, make_event, organiser, count=4, capacity=4)
    before = mark()
    for url in ("/events/", f"/events/{event.id}", f"/events/{event.id}/edit", f"/events/{event.id}/cancel", "/people/",
                f"/events/{event.id}/seating", f"/events/{event.id}/attendance", "/series/", "/settings/feed", "/dashboard/"):
        assert client.get(url).status_code in (200, 409), url
    assert added(before) == []


def test_a_change_that_fails_after_recording_leaves_no_entry(app, make_organiser):
    organiser = make_organiser()

    class Refused(PlannerError):
        pass

    def failing():
        audit.record(db.session, "event.create", organiser=organiser, subject=("event", 1))
        raise Refused("no")

    class Form:
        def __init__(self):
            self.form_errors = []

    form = Form()
    assert committed_or_shown(form, failing) is None
    assert added(0) == [] and form.form_errors == ["no"]
    assert committed_or_shown(form, lambda: organiser, lambda result: audit.record(db.session, "auth.login", organiser=result))
    assert only(0)[:2] == (organiser.email, "auth.login")


# --- the admin page -------------------------------------------------------------------------------


def fill_log(count: int, **fields) -> None:
    """Add count entries straight to the table (the page's cost must not depend on how many there are)."""
    start = datetime(2031, 1, 1, 9, tzinfo=UTC)
    rows = [{"at": start + timedelta(hours=i), "actor": fields.get("actor", "a@example.com"), "action": fields.get("action", "event.send"),
             "subject_type": "event", "subject_id": i % 7, "summary": f"entry {i}"} for i in range(count)]
    db.session.execute(insert(AuditEntry), rows)
    db.session.commit()


def admin_client(client, login, make_organiser):
    admin = make_organiser("admin@example.com")
    assert admin.is_admin
    login(admin)
    return admin


def test_only_admins_see_the_log_and_its_link(client, login, make_organiser):
    make_organiser("admin@example.com")
    assert client.get("/admin/audit/").status_code == 302  # not logged in: the login page
    login(make_organiser("plain@example.com", role=OrganiserRole.ORGANISER))
    assert client.get("/admin/audit/").status_code == 403
    assert client.get("/admin/audit/audit-log.csv").status_code == 403
    assert "Audit log" not in client.get("/events/").data.decode()


def test_the_admin_page_shows_the_newest_first_in_pages_of_a_fixed_cost(client, login, make_organiser):
    admin_client(client, login, make_organiser)
    assert "Audit log" in client.get("/events/").data.decode()
    costs = []
    for count in (3, 260):
        fill_log(count)
        with statements() as executed:
            page = client.get("/admin/audit/?action=event.send")
        assert page.status_code == 200
        costs.append(len(executed))
    # the logged-in organiser; one page of entries (one more than shown tells whether an older page exists)
    assert costs == [2, 2], costs
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action != "event.send")) == 1  # the login only
    text = page.data.decode()
    shown = re.findall(r"<td>entry (\d+)</td>", text)
    assert shown[:3] == ["259", "258", "257"] and len(shown) == audit.PAGE_SIZE
    older = re.search(r'href="([^"]*before=\d+[^"]*)">Older', text).group(1).replace("&amp;", "&")
    assert "action=event.send" in older
    second = re.findall(r"<td>entry (\d+)</td>", client.get(older).data.decode())
    assert second[0] == str(259 - audit.PAGE_SIZE) and len(second) == audit.PAGE_SIZE


def test_the_filters_narrow_the_log(client, login, make_organiser):
    admin_client(client, login, make_organiser)
    fill_log(30)
    fill_log(5, actor="invitee", action="answer.record")

    def shown(query: str) -> list[str]:
        response = client.get(f"/admin/audit/?{query}")
        assert response.status_code == 200, response.data
        return re.findall(r"<td>entry (\d+)</td>", response.data.decode())

    assert shown("action=answer.record") == ["4", "3", "2", "1", "0"]
    assert shown("actor=INVITEE") == ["4", "3", "2", "1", "0"]
    assert shown("actor=a@example&action=event.send&object=event&object_id=3") == ["24", "17", "10", "3"]
    # entry i is at 2031-01-01 09:00 UTC + i hours, 10:00 + i in Europe/Berlin: 2 January holds entries 14 to 29
    assert shown("action=event.send&from=2031-01-02&to=2031-01-02") == [str(i) for i in range(29, 13, -1)]
    assert shown("action=event.send&to=2031-01-01") == [str(i) for i in range(13, -1, -1)]
    for bad in ("action=event.explode", "object_id=x", "from=yesterday"):
        assert client.get(f"/admin/audit/?{bad}").status_code == 400, bad
        assert client.get(f"/admin/audit/audit-log.csv?{bad}").status_code == 400, bad


def test_the_csv_export_streams_the_filtered_log_safely_and_is_itself_recorded(client, login, make_organiser, app):
    admin = admin_client(client, login, make_organiser)
    fill_log(3)
    audit.record(db.session, "auth.login_failed", actor=audit.VISITOR, summary="=HYPERLINK(\"http://evil.example\")")
    db.session.commit()
    before = mark()
    response = client.get("/admin/audit/audit-log.csv?actor=visitor")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.data.decode())))
    assert rows[0] == list(audit.CSV_HEADER)
    assert [row[2] for row in rows[1:]] == ["auth.login_failed"]
    assert rows[1][5] == "'=HYPERLINK(\"http://evil.example\")"
    assert only(before) == (admin.email, "export.download", None, None, "audit-log.csv actor=visitor")
    everything = list(csv.reader(io.StringIO(client.get("/admin/audit/audit-log.csv").data.decode())))
    assert len(everything) == 1 + db.session.scalar(select(func.count(AuditEntry.id)))


def test_no_route_of_the_log_changes_or_removes_entries(app):
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("audit.")]
    assert rules and all(rule.methods <= {"GET", "HEAD", "OPTIONS"} for rule in rules), rules
    entry = audit.record(db.session, "auth.login_failed", actor=audit.VISITOR, summary="x@example.com")
    db.session.commit()
    db.session.delete(entry)
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    assert db.session.scalar(select(func.count(AuditEntry.id))) == 1


#: the action a recording names: audited("a.b", ...) or record(session, "a.b", ...) (or record_now), or "a.b" if ... else "c.d"
RECORDING = re.compile(r'(?:audited\(|record(?:_now)?\(\w+(?:\.\w+)?,\s*)("[a-z_.]+"(?: if [^"]+ else "[a-z_.]+")?)')


def test_every_recorded_action_is_one_the_page_offers():
    sources = "\n".join(path.read_text() for path in (ROOT / "planner").rglob("*.py"))
    named = {name for found in RECORDING.findall(sources) for name in re.findall(r'"([a-z_.]+)"', found)}
    assert {"series.send", "series.round", "proposal.exclude", "organiser.create", "answer.record"} <= named
    assert named <= set(audit.ACTIONS), named - set(audit.ACTIONS)
    assert all(re.fullmatch(r"[a-z]+\.[a-z_]+", action) for action in audit.ACTIONS)
