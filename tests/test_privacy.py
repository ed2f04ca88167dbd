"""Personal data on request: the export, the erasure (nothing left of the person, counts and analytics unchanged), retention."""

import email
import email.policy
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import LargeBinary, func, select

from planner.directory import PersonRow, read_people_csv
from planner.extensions import db
from planner.mailer import mail_settings
from planner.models import (
    Answer,
    AuditEntry,
    CalendarFeed,
    Event,
    EventKind,
    EventStatus,
    FeedbackAnswer,
    FeedbackMail,
    FeedbackMailKind,
    FirstMeeting,
    InboundMail,
    Invitation,
    LoginFailure,
    MailState,
    Organiser,
    OutgoingMail,
    PairMeeting,
    Person,
    PersonNeeds,
    ProposalEntry,
    Question,
    QuestionAnswer,
    QuestionKind,
    Reminder,
    ReminderKind,
    Seat,
    SeatingPlan,
    StagedImport,
)
from planner.services import analytics, audit
from planner.services.availability import AvailabilityError, opt_in
from planner.services.feedback import attendees_to_ask
from planner.services.invites import invite_person
from planner.services.mails import queue_answer_notice
from planner.services.people import directory_csv, write_rows
from planner.services.privacy import PrivacyError, erase_person, export_person, retain
from tests.helpers import csrf_from, statements

NAME, EMAIL = "Zoë Quillfeather", "zoe.quillfeather@example.com"
NOTE, DIET, ACCESS = "bringing my guide dog Biscuit", "no coriander please", "step-free route"
TEXT_ANSWER, COMMENT = "I would like to talk about compilers", "the soup was cold at table three"


def _event(organiser, title: str, starts_at: datetime, status=EventStatus.SENT, capacity=10) -> Event:
    event = Event(uid=f"{title}-{starts_at.timestamp()}@planner.test", kind=EventKind.LUNCH, title=title, starts_at=starts_at,
                  ends_at=starts_at + timedelta(hours=1), timezone="Europe/Berlin", capacity=capacity, status=status,
                  organiser_id=organiser.id)
    db.session.add(event)
    db.session.flush()
    return event


def _invite(event: Event, person: Person, answer=Answer.YES, comment=None) -> Invitation:
    invite_person(db.session, event, person, mail_settings(), stamp=event.starts_at - timedelta(days=7))
    invitation = db.session.scalar(select(Invitation).where(Invitation.event_id == event.id, Invitation.person_id == person.id))
    invitation.answer, invitation.comment, invitation.answered_at = answer, comment, event.starts_at - timedelta(days=3)
    return invitation


@pytest.fixture
def world(app, make_organiser, make_person):
    """The subject with one row of every kind stored about a person, among colleagues who met them."""
    organiser = make_organiser()
    now = datetime.now(UTC)
    subject = make_person(email=EMAIL, name=NAME, department="Sales", level=0, joined_on=date.today() - timedelta(days=400))
    subject.scim_user_name, subject.external_id = EMAIL, "idp-00u1zoe"
    others = [make_person(department=dept, level=level) for dept, level in
              [("Engineering", 3), ("Engineering", 1), ("Finance", 2), ("Sales", 4), ("Finance", 0), ("Legal", 1)]]
    past = _event(organiser, "Spring lunch", now - timedelta(days=20))
    mine = _invite(past, subject, comment=NOTE)
    for person in others:
        _invite(past, person)
    text_question = Question(event_id=past.id, label="What would you like to talk about?", kind=QuestionKind.TEXT)
    choice_question = Question(event_id=past.id, label="Main course", kind=QuestionKind.ONE, choices="Fish\nPasta")
    db.session.add_all([text_question, choice_question])
    db.session.flush()
    db.session.add_all([
        QuestionAnswer(question_id=text_question.id, invitation_id=mine.id, value=TEXT_ANSWER),
        QuestionAnswer(question_id=choice_question.id, invitation_id=mine.id, value="Pasta"),
        PersonNeeds(person_id=subject.id, diets="vegan", diet_note=DIET, access_note=ACCESS),
        FeedbackAnswer(invitation_id=mine.id, token_hash="f" * 64, rating=4, comment=COMMENT, answered_at=now - timedelta(days=18)),
        FeedbackMail(invitation_id=mine.id, kind=FeedbackMailKind.REQUEST, queued_at=now - timedelta(days=19)),
        Reminder(invitation_id=mine.id, kind=ReminderKind.UNANSWERED, queued_at=now - timedelta(days=24)),
        FirstMeeting(event_id=past.id, person_id=subject.id, met_person_id=others[0].id),
        FirstMeeting(event_id=past.id, person_id=others[2].id, met_person_id=subject.id),
        CalendarFeed(person_id=subject.id, token_seed="s" * 32, token_hash="c" * 64),
        InboundMail(sender=EMAIL, invitation_id=mine.id, outcome="applied", reason=f"accepted by {EMAIL}", message_id="<r1@x>"),
        LoginFailure(email=EMAIL, remote_addr="192.0.2.1"),
        StagedImport(organiser_id=organiser.id, filename="staff.csv", payload=json.dumps([{"email": EMAIL, "name": NAME}])),
    ])
    plan = SeatingPlan(event_id=past.id, published_at=now - timedelta(days=21))
    db.session.add(plan)
    db.session.flush()
    table = [subject, others[0], others[2], others[4]]
    db.session.add_all([Seat(plan_id=plan.id, person_id=person.id, table_index=0 if person in table else 1)
                        for person in [subject, *others]])
    for a in table:
        for b in table:
            if a.id < b.id:
                db.session.add(PairMeeting(person_a_id=a.id, person_b_id=b.id, event_id=past.id, met_on=past.starts_at.date()))
    db.session.add(PairMeeting(person_a_id=others[1].id, person_b_id=others[3].id, event_id=past.id, met_on=past.starts_at.date()))
    coming = _event(organiser, "Summer lunch", now + timedelta(days=10), capacity=1)
    _invite(coming, subject)
    waiting = _invite(coming, others[5], answer=Answer.WAITLIST)
    draft = _event(organiser, "Autumn lunch", now + timedelta(days=40), status=EventStatus.DRAFT)
    db.session.add(ProposalEntry(event_id=draft.id, person_id=subject.id, reason="fewest invitations"))
    db.session.add(ProposalEntry(event_id=draft.id, person_id=others[1].id, reason=f"in place of {NAME} <{EMAIL}>"))
    db.session.flush()
    queue_answer_notice(db.session, mine, organiser, mail_settings(), now)
    audit.record(db.session, "login.failed", actor=audit.SYSTEM, summary=EMAIL)
    db.session.commit()
    return {"subject": subject, "others": others, "past": past, "coming": coming, "waiting": waiting, "organiser": organiser,
            "now": now}


def _dump_hits(*needles: str) -> list[str]:
    """Return table.column of every stored value (text, or a message decoded) that contains one of the needles."""
    hits = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)).mappings():
            for column in table.columns:
                value = row[column.name]
                if isinstance(column.type, LargeBinary) and value:
                    message = email.message_from_bytes(value, policy=email.policy.default)
                    parts = [str(v) for v in message.values()]
                    parts += [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
                    value = value.decode("latin-1") + "\n".join(parts)
                if isinstance(value, str) and any(needle.lower() in value.lower() for needle in needles):
                    hits.append(f"{table.name}.{column.name}")
    return hits


def _figures(now: datetime) -> dict:
    today = now.date()
    filters = analytics.Filters(today - timedelta(days=180), today)
    report = analytics.report(db.session, filters, today, series_ids=None, min_group=2, junior_max=1,
                              level_names=["Intern", "Junior", "Mid", "Senior", "Lead"])
    return {
        "health": report.health, "ties": report.ties, "reported": report.reported, "reported_ties": report.reported_ties,
        "groups": report.groups, "grouping": report.grouping, "departments": report.departments, "levels": report.levels,
        "spread": report.spread, "trends": report.trends, "isolated": [item.member.id for item in report.isolated],
        "never": [member.id for member in report.never_invited],
        "counts": analytics.invitation_counts(db.session, filters.start, filters.end),
    }


def _history(person_id: int) -> dict:
    return {
        "invitations": db.session.execute(
            select(Invitation.id, Invitation.event_id, Invitation.answer).where(Invitation.event_id.in_(
                select(Event.id).where(Event.title == "Spring lunch"))).order_by(Invitation.id)).all(),
        "pairs": db.session.execute(select(PairMeeting.person_a_id, PairMeeting.person_b_id).order_by(PairMeeting.id)).all(),
        "seats": db.session.execute(select(Seat.person_id, Seat.table_index).order_by(Seat.id)).all(),
        "first": db.session.execute(select(FirstMeeting.person_id, FirstMeeting.met_person_id).order_by(FirstMeeting.id)).all(),
        "ratings": db.session.scalars(select(FeedbackAnswer.rating)).all(),
        "choices": db.session.scalars(select(QuestionAnswer.value).join(Question).where(Question.kind == QuestionKind.ONE)).all(),
    }


def test_the_export_holds_every_category_and_nothing_of_other_people(world):
    subject, others = world["subject"], world["others"]
    data = export_person(db.session, subject, world["now"])
    assert data["person"]["email"] == EMAIL and data["person"]["name"] == NAME and data["person"]["department"] == "Sales"
    assert data["needs"] == {"diets": ["vegan"], "diet_note": DIET, "access_note": ACCESS, "updated_at": data["needs"]["updated_at"]}
    spring = next(item for item in data["invitations"] if item["event"]["title"] == "Spring lunch")
    assert (spring["answer"], spring["note"]) == ("yes", NOTE)
    assert spring["event"]["starts_at"] == world["past"].starts_at.isoformat()
    assert {a["answer"] for a in spring["question_answers"]} == {TEXT_ANSWER, "Pasta"}
    assert spring["feedback"]["comment"] == COMMENT and spring["feedback"]["rating"] == 4
    assert [r["kind"] for r in spring["reminders"]] == ["unanswered"]
    assert [m["kind"] for m in spring["feedback_mails"]] == ["request"]
    assert {item["event"]["title"] for item in data["invitations"]} == {"Spring lunch", "Summer lunch"}
    assert [p["reason"] for p in data["proposals"]] == ["fewest invitations"]
    assert [s["table"] for s in data["seats"]] == [1]
    assert sorted(p["person_id"] for p in data["pairs_met"]) == sorted([others[0].id, others[2].id, others[4].id])
    assert [f["person_id"] for f in data["first_meetings_reported"]] == [others[0].id]
    assert [f["person_id"] for f in data["first_meetings_reported_by_others"]] == [others[2].id]
    assert sorted(m["subject"].split(" on ")[0] for m in data["mails"]) == ["Invitation: Spring lunch", "Invitation: Summer lunch"]
    assert all(m["recipient"] == EMAIL for m in data["mails"])
    assert [(r["sender"], r["outcome"]) for r in data["calendar_replies"]] == [(EMAIL, "applied")]
    assert data["calendar_feed"] is not None and [f["remote_addr"] for f in data["login_failures"]] == ["192.0.2.1"]
    text = json.dumps(data)
    for other in others:
        assert other.email not in text and other.name not in text
    assert world["organiser"].email not in text


def test_the_export_costs_the_same_statements_however_much_is_stored(world):
    subject_id = world["subject"].id
    with statements() as few:
        export_person(db.session, db.session.get(Person, subject_id), world["now"])
    for days in (30, 40, 50):
        event = _event(db.session.scalar(select(Organiser)), f"Lunch {days}", world["now"] - timedelta(days=days))
        _invite(event, db.session.get(Person, subject_id), comment="a note")
        db.session.add(PairMeeting(person_a_id=subject_id, person_b_id=subject_id + 2, event_id=event.id,
                                   met_on=event.starts_at.date()))
    db.session.commit()
    with statements() as many:
        data = export_person(db.session, db.session.get(Person, subject_id), world["now"])
    assert len(data["invitations"]) == 5
    assert len(few) == len(many) == 18


def test_erasure_leaves_nothing_of_the_person_in_any_column_of_any_table(world):
    subject = world["subject"]
    needles = (EMAIL, NAME, "zoe quillfeather", NOTE, DIET, ACCESS, TEXT_ANSWER, COMMENT)
    assert set(_dump_hits(*needles)) == {  # the search finds what is there
        "person.email", "person.name", "person.search_key", "person_needs.diet_note", "person_needs.access_note",
        "invitation.comment", "question_answer.value", "feedback_answer.comment", "proposal_entry.reason", "inbound_mail.sender",
        "inbound_mail.reason", "login_failure.email", "staged_import.payload", "outgoing_mail.raw", "outgoing_mail.recipient",
        "outgoing_mail.subject", "audit_entry.summary", "person.scim_user_name",
    }
    erasure = erase_person(db.session, subject, mail_settings(), datetime.now(UTC))
    audit.record(db.session, "person.erase", actor=audit.COMMAND_LINE, subject=("person", subject.id), summary=erasure.summary)
    db.session.commit()
    assert _dump_hits(*needles) == []
    person = db.session.get(Person, subject.id)
    assert (person.name, person.email) == (f"Erased person #{subject.id}", f"erased-{subject.id}@invalid")
    assert person.is_opted_out and person.erased_at is not None
    assert (person.scim_user_name, person.external_id) == (None, None)
    assert (person.department, person.level) == ("Sales", 0)
    reason = db.session.scalar(select(ProposalEntry.reason).where(ProposalEntry.person_id == world["others"][1].id))
    assert reason == f"in place of Erased person #{subject.id} <Erased person #{subject.id}>"
    assert db.session.scalar(select(CalendarFeed)) is None and db.session.scalar(select(StagedImport)) is None


def test_erasure_keeps_counts_other_histories_and_the_analytics_as_they_were(world):
    before, history = _figures(world["now"]), _history(world["subject"].id)
    assert before["health"].people == 7 and before["ties"] == 7 and before["counts"][world["subject"].id] == 1
    erase_person(db.session, world["subject"], mail_settings(), datetime.now(UTC))
    db.session.commit()
    assert _figures(world["now"]) == before
    assert _history(world["subject"].id) == history


def test_erasure_withdraws_coming_invitations_gives_the_seat_on_and_breaks_every_link(world):
    subject, coming, waiting = world["subject"], world["coming"], world["waiting"]
    hashes = db.session.execute(select(Invitation.token_hash, Invitation.reply_token_hash).where(Invitation.person_id == subject.id)).all()
    erase_person(db.session, subject, mail_settings(), datetime.now(UTC))
    db.session.commit()
    mine = db.session.scalar(select(Invitation).where(Invitation.event_id == coming.id, Invitation.person_id == subject.id))
    assert mine.cancelled_at is not None
    assert db.session.get(Invitation, waiting.id).answer == Answer.YES
    after = db.session.execute(select(Invitation.token_hash, Invitation.reply_token_hash).where(Invitation.person_id == subject.id)).all()
    assert not set(hashes) & set(after) and all(reply is None for _, reply in after)
    assert db.session.scalar(select(FeedbackAnswer.token_hash)) != "f" * 64
    unsent = db.session.scalars(select(OutgoingMail).where(OutgoingMail.recipient == f"erased-{subject.id}@invalid")).all()
    assert unsent and all(mail.raw == b"" and mail.state in (MailState.SENT, MailState.FAILED) for mail in unsent)
    assert db.session.scalar(select(ProposalEntry).where(ProposalEntry.person_id == subject.id)) is None
    with pytest.raises(AvailabilityError):
        opt_in(db.session, db.session.get(Person, subject.id))
    with pytest.raises(PrivacyError, match="erased already"):
        erase_person(db.session, db.session.get(Person, subject.id), mail_settings(), datetime.now(UTC))


def test_an_erased_attendee_is_not_asked_for_feedback(world):
    now = world["past"].ends_at + timedelta(days=2)
    db.session.execute(FeedbackMail.__table__.delete())
    db.session.commit()
    mine = db.session.scalar(select(Invitation.id).where(Invitation.person_id == world["subject"].id,
                                                          Invitation.event_id == world["past"].id))
    assert mine in attendees_to_ask(db.session, now, window_days=30)
    erase_person(db.session, world["subject"], mail_settings(), datetime.now(UTC))
    db.session.commit()
    asked = attendees_to_ask(db.session, now, window_days=30)
    assert mine not in asked and len(asked) == 6


def test_importing_the_old_email_again_makes_a_new_person(world):
    old_id = world["subject"].id
    erase_person(db.session, world["subject"], mail_settings(), datetime.now(UTC))
    db.session.commit()
    write_rows(db.session, [PersonRow(2, EMAIL, NAME, "Sales", 0, None, True)], deactivate_missing=False)
    db.session.commit()
    fresh = db.session.scalar(select(Person).where(Person.email == EMAIL))
    assert fresh.id != old_id and not fresh.is_opted_out and fresh.erased_at is None
    assert db.session.scalar(select(Invitation).where(Invitation.person_id == fresh.id)) is None
    assert db.session.get(Person, old_id).name == f"Erased person #{old_id}"
    listed = directory_csv(db.session, ["Intern", "Junior"])
    assert EMAIL in listed and "Erased person" not in listed  # the directory download imports again as it is
    read_people_csv(listed.encode(), ["Intern", "Junior", "Mid", "Senior", "Lead"])


def test_admins_download_the_export_and_it_is_audited(world, client, login):
    login(world["organiser"])
    response = client.get(f"/admin/people/{world['subject'].id}/export.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == f"attachment; filename=person-{world['subject'].id}.json"
    assert response.get_json()["person"]["email"] == EMAIL
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "person.export"))
    assert (entry.subject_type, entry.subject_id, entry.actor) == ("person", world["subject"].id, world["organiser"].email)
    page = client.get(f"/people/{world['subject'].id}")
    assert b"Download personal data" in page.data and b"Erase personal data" in page.data


def test_erasure_over_the_web_asks_for_the_email_and_a_csrf_token(world, client, login):
    subject_id = world["subject"].id
    login(world["organiser"])
    page = client.get(f"/admin/people/{subject_id}/erase")
    assert page.status_code == 200 and db.session.get(Person, subject_id).erased_at is None  # a GET erases nothing
    url = f"/admin/people/{subject_id}/erase"
    assert client.post(url, data={"confirm_email": EMAIL}).status_code == 400
    wrong = client.post(url, data={"confirm_email": "someone@example.com", "csrf_token": csrf_from(page.data)})
    assert wrong.status_code == 400 and b"not this person" in wrong.data
    db.session.expire_all()
    assert db.session.get(Person, subject_id).erased_at is None
    done = client.post(url, data={"confirm_email": EMAIL.upper(), "csrf_token": csrf_from(page.data)})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Person, subject_id).name == f"Erased person #{subject_id}"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "person.erase"))
    assert entry.subject_id == subject_id and "Zo" not in entry.summary and "@" not in entry.summary
    shown = client.get(done.headers["Location"])
    assert b"personal data erased on" in shown.data and b"Erase personal data" not in shown.data
    assert b"Opt back in" not in shown.data
    again = client.post(url, data={"confirm_email": f"erased-{subject_id}@invalid", "csrf_token": csrf_from(page.data)})
    assert again.status_code == 302 and db.session.scalar(
        select(func.count(AuditEntry.id)).where(AuditEntry.action == "person.erase")) == 1


def test_other_organisers_may_neither_export_nor_erase(world, client, login, make_organiser):
    login(make_organiser(email="second@example.com"))
    subject_id = world["subject"].id
    page = client.get(f"/people/{subject_id}")
    assert b"Erase personal data" not in page.data
    assert client.get(f"/admin/people/{subject_id}/export.json").status_code == 403
    assert client.get(f"/admin/people/{subject_id}/erase").status_code == 403
    posted = client.post(f"/admin/people/{subject_id}/erase", data={"confirm_email": EMAIL, "csrf_token": csrf_from(page.data)})
    assert posted.status_code == 403
    db.session.expire_all()
    assert db.session.get(Person, subject_id).erased_at is None
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action.like("person.%"))) is None


def test_people_export_and_erase_commands(world, app, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "zoe.json"
    result = runner.invoke(args=["people", "export", EMAIL.upper(), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["person"]["name"] == NAME
    refused = runner.invoke(args=["people", "erase", EMAIL], input="n\n")
    assert refused.exit_code == 1
    db.session.expire_all()
    assert db.session.get(Person, world["subject"].id).erased_at is None
    result = runner.invoke(args=["people", "erase", EMAIL, "--yes"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["people", "erase", EMAIL, "--yes"]).exit_code == 1  # nobody has that email any more
    actions = db.session.execute(select(AuditEntry.action, AuditEntry.actor).where(AuditEntry.action.like("person.%"))).all()
    assert actions == [("person.export", audit.COMMAND_LINE), ("person.erase", audit.COMMAND_LINE)]
    assert _dump_hits(EMAIL, NAME, NOTE, COMMENT) == []


def _aged(app, make_organiser, make_person, *, months_ago: int) -> dict:
    """One event that ended about `months_ago` months ago with a note, a text and a choice answer, a comment and needs."""
    organiser = db.session.scalar(select(Organiser)) or make_organiser()
    person = make_person()
    event = _event(organiser, f"Lunch {months_ago}", datetime(2026, 11, 15, 11, tzinfo=UTC) - timedelta(days=30.5 * months_ago))
    invitation = _invite(event, person, comment=f"note {months_ago}")
    text_question = Question(event_id=event.id, label="Topic?", kind=QuestionKind.TEXT)
    choice_question = Question(event_id=event.id, label="Main?", kind=QuestionKind.ONE, choices="A\nB")
    db.session.add_all([text_question, choice_question])
    db.session.flush()
    db.session.add_all([
        QuestionAnswer(question_id=text_question.id, invitation_id=invitation.id, value="free text"),
        QuestionAnswer(question_id=choice_question.id, invitation_id=invitation.id, value="A"),
        FeedbackAnswer(invitation_id=invitation.id, token_hash=f"{months_ago:064d}", rating=5, comment="nice"),
        PersonNeeds(person_id=person.id, diet_note="no nuts", updated_at=event.ends_at),
    ])
    db.session.commit()
    return {"person": person, "invitation": invitation}


def test_retention_deletes_exactly_what_is_older_than_the_setting(app, make_organiser, make_person):
    now = datetime(2026, 11, 15, 12, tzinfo=UTC)
    old, recent = (_aged(app, make_organiser, make_person, months_ago=months) for months in (25, 23))
    report = retain(db.session, now, 24)
    db.session.commit()
    assert (report.notes, report.answers, report.feedback_comments, report.needs) == (1, 1, 1, 1)
    db.session.expire_all()
    assert db.session.get(Invitation, old["invitation"].id).comment is None
    assert db.session.get(Invitation, recent["invitation"].id).comment == "note 23"
    values = dict(db.session.execute(select(QuestionAnswer.invitation_id, func.count(QuestionAnswer.id)).group_by(QuestionAnswer.invitation_id)).all())
    assert values == {old["invitation"].id: 1, recent["invitation"].id: 2}  # the old choice answer stays
    comments = dict(db.session.execute(select(FeedbackAnswer.invitation_id, FeedbackAnswer.comment)).all())
    assert comments == {old["invitation"].id: None, recent["invitation"].id: "nice"}
    assert db.session.scalars(select(PersonNeeds.person_id)).all() == [recent["person"].id]
    again = retain(db.session, now, 24)
    assert again.total == 0


def test_retention_keeps_an_event_that_ended_exactly_at_the_cutoff(app, make_organiser, make_person):
    now = datetime(2026, 11, 15, 12, tzinfo=UTC)
    organiser, cutoff = make_organiser(), datetime(2024, 11, 15, 12, tzinfo=UTC)
    kept = _invite(_event(organiser, "At the cutoff", cutoff - timedelta(hours=1)), make_person(), comment="kept")
    gone = _invite(_event(organiser, "Just before", cutoff - timedelta(hours=1, seconds=1)), make_person(), comment="gone")
    db.session.commit()
    assert retain(db.session, now, 24).notes == 1
    db.session.expire_all()
    assert (db.session.get(Invitation, kept.id).comment, db.session.get(Invitation, gone.id).comment) == ("kept", None)


def test_needs_stay_while_the_person_is_invited_to_newer_events(app, make_organiser, make_person):
    now = datetime(2026, 11, 15, 12, tzinfo=UTC)
    old = _aged(app, make_organiser, make_person, months_ago=30)
    newer = _event(db.session.scalar(select(Organiser)), "Newer", now - timedelta(days=10))
    _invite(newer, old["person"])
    db.session.commit()
    assert retain(db.session, now, 24).needs == 0
    assert db.session.scalar(select(PersonNeeds.person_id)) == old["person"].id


def test_the_retain_command_is_off_by_default_and_audits_a_run_that_deleted(app, make_organiser, make_person):
    _aged(app, make_organiser, make_person, months_ago=30)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["privacy", "retain"])
    assert result.exit_code == 0 and "off" in result.output
    app.config["RETENTION_MONTHS"] = 24
    for _ in range(2):
        result = runner.invoke(args=["privacy", "retain", "--now", "2026-11-15T12:00:00+00:00"])
        assert result.exit_code == 0, result.output
    entries = db.session.scalars(select(AuditEntry.summary).where(AuditEntry.action == "privacy.retain")).all()
    assert entries == ["older than 2024-11-15: notes 1, answers 1, feedback comments 1, needs 1"]
    assert "notes 0" in result.output


def test_the_periodic_unit_runs_retention():
    unit = (Path(__file__).parent.parent / "deploy/systemd/planner-periodic.service").read_text()
    assert "flask --app wsgi privacy retain" in unit


def test_the_export_unknown_email_is_refused(app):
    result = app.test_cli_runner().invoke(args=["people", "export", "nobody@example.com"])
    assert result.exit_code == 1 and "Nobody" in result.output
