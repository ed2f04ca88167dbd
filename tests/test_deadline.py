"""The answer deadline: afterwards the RSVP page is read-only, a POST is refused, and a calendar reply is logged as late."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from planner.extensions import db
from planner.mailer import mail_settings
from planner.models import Answer, Event, InboundMail, Invitation, PersonNeeds, Question, QuestionAnswer, utcnow
from planner.services.rsvp import AnswersClosed, record_answer
from tests.helpers import client_reply, csrf_from, ingest_cli, invite_with_token, marked_sent, sent_event


def close_answers(event) -> None:
    event = db.session.get(Event, event.id)
    event.rsvp_deadline_at = utcnow() - timedelta(minutes=1)
    db.session.commit()


def stored(person) -> Invitation:
    db.session.expire_all()
    return db.session.scalar(select(Invitation).where(Invitation.person_id == person.id))


def test_after_the_deadline_the_page_shows_the_answer_read_only_and_says_answers_are_closed(client, make_person, make_event):
    event = marked_sent(make_event)
    question = Question(event_id=event.id, label="T-shirt size", kind="one", choices="S\nM\nL", is_required=False)
    db.session.add(question)
    person = make_person(name="Lena Late")
    token = invite_with_token(event, person, Answer.YES, comment="Looking forward")
    db.session.add(QuestionAnswer(question_id=question.id, invitation_id=stored(person).id, value="M"))
    db.session.commit()
    open_page = client.get(f"/rsvp/{token}").data.decode()
    assert 'value="yes"' in open_page and "<button" in open_page

    close_answers(event)
    response = client.get(f"/rsvp/{token}")
    page = response.data.decode()
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "yes, I will come" in page
    assert "Answers for this event are closed: they closed on" in page and "(Europe/Berlin)" in page
    assert "T-shirt size: <strong>M</strong>" in page
    assert "<button" not in page and "<form" not in page and 'name="answer"' not in page


def test_a_post_after_the_deadline_is_refused_with_a_message_and_changes_nothing(client, make_person, make_event):
    event = marked_sent(make_event)
    db.session.add(Question(event_id=event.id, label="Arrival", kind="text", choices="", is_required=False))
    person = make_person()
    token = invite_with_token(event, person, Answer.YES, comment="See you")
    csrf = csrf_from(client.get(f"/rsvp/{token}").data)
    close_answers(event)
    question_id = db.session.scalar(select(Question.id))
    data = {"csrf_token": csrf, "answer": "no", "comment": "changed my mind", f"q{question_id}": "late",
            "needs_shown": "1", "diets": ["vegan"], "access_note": "ramp"}
    response = client.post(f"/rsvp/{token}", data=data)
    assert response.status_code == 409
    assert response.headers["Cache-Control"] == "no-store"
    assert "Answers for this event are closed. They closed on" in response.data.decode()
    invitation = stored(person)
    assert (invitation.answer, invitation.comment) == (Answer.YES, "See you")
    assert db.session.scalar(select(PersonNeeds)) is None and db.session.scalar(select(QuestionAnswer)) is None


def test_the_answer_service_refuses_a_late_answer_too(app, make_person, make_event):
    event = marked_sent(make_event)
    person = make_person()
    invite_with_token(event, person)
    close_answers(event)
    with pytest.raises(AnswersClosed, match="closed on"):
        record_answer(db.session, stored(person), "yes", utcnow(), settings=mail_settings())
    db.session.rollback()
    assert stored(person).answer == Answer.PENDING


def test_a_calendar_reply_after_the_deadline_is_logged_as_late_and_not_applied(smtp_app, smtp_server, make_person, make_event):
    _, event, _ = sent_event(smtp_app, smtp_server, make_person, make_event, 2)
    received = {message.recipients[0]: message.data for message in smtp_server.messages}
    first, second = sorted(received)
    code, output = ingest_cli(smtp_app, client_reply(received[first], "ACCEPTED"))
    assert output.strip().startswith("applied")

    close_answers(event)
    code, output = ingest_cli(smtp_app, client_reply(received[second], "DECLINED"))
    assert code == 0
    entry = db.session.scalars(select(InboundMail).order_by(InboundMail.id.desc())).first()
    assert entry.outcome == "ignored"
    assert entry.reason.startswith("late: answers closed on ") and "(Europe/Berlin)" in entry.reason
    answers = dict(db.session.execute(select(Invitation.person_id, Invitation.answer)).all())
    assert sorted(answers.values()) == [Answer.PENDING, Answer.YES]
