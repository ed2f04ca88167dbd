"""Custom questions: the organiser defines them on an event, invitees answer them, required ones must be answered to say yes."""

from sqlalchemy import func, select

from planner.extensions import db
from planner.models import Answer, EventKind, EventStatus, Invitation, Question, QuestionAnswer, utcnow
from tests.helpers import csrf_from, invite_with_token


def training(make_event, status=EventStatus.SENT, **fields):
    event = make_event(title="Training day", **fields)
    event.kind, event.status = EventKind.TRAINING, status
    event.sent_at = utcnow() if status != EventStatus.DRAFT else None
    db.session.commit()
    return event



def add(client, event, **fields):
    page = client.get(f"/events/{event.id}/questions")
    assert page.status_code == 200
    data = {"csrf_token": csrf_from(page.data), "kind": "text", **fields}
    return client.post(f"/events/{event.id}/questions", data=data)


def questions() -> list[Question]:
    db.session.expire_all()
    return list(db.session.scalars(select(Question).order_by(Question.id)))


def ask_three(event):
    """A required one-choice question, an optional several-choice question and an optional short text."""
    db.session.add_all([
        Question(event_id=event.id, label="Which track?", kind="one", choices="Python\nSQL", is_required=True),
        Question(event_id=event.id, label="Sessions", kind="several", choices="Morning\nAfternoon\nEvening", is_required=False),
        Question(event_id=event.id, label="Anything else?", kind="text", choices="", is_required=False),
    ])
    db.session.commit()
    return questions()


def post_answer(client, token, reply, **answers):
    data = {"csrf_token": csrf_from(client.get(f"/rsvp/{token}").data), "answer": reply, **answers}
    return client.post(f"/rsvp/{token}", data=data)


def stored_answers() -> dict[int, str]:
    db.session.expire_all()
    return dict(db.session.execute(select(QuestionAnswer.question_id, QuestionAnswer.value)).all())


def test_the_organiser_adds_edits_and_removes_questions(client, login, make_person, make_event):
    organiser = login()
    event = training(make_event, status=EventStatus.DRAFT, organiser=organiser)
    assert "Questions for invitees (0)" in client.get(f"/events/{event.id}").data.decode()
    assert add(client, event, label="Dietary preference for the lunch?").status_code == 303
    choice = add(client, event, label="Which track?", kind="one", choices="Python\n\n SQL \nPython\n", is_required="y")
    assert choice.status_code == 303
    text, track = questions()
    assert (text.kind, text.choices, text.is_required) == ("text", "", False)
    assert (track.kind, track.choice_list, track.is_required) == ("one", ["Python", "SQL"], True)
    assert "Questions for invitees (2)" in client.get(f"/events/{event.id}").data.decode()

    edit_page = client.get(f"/events/{event.id}/questions/{track.id}")
    assert edit_page.status_code == 200 and "Python\nSQL</textarea>" in edit_page.data.decode()
    data = {"csrf_token": csrf_from(edit_page.data), "label": "Tracks", "kind": "several", "choices": "Python\nSQL\nRust"}
    assert client.post(f"/events/{event.id}/questions/{track.id}", data=data).status_code == 303
    track = questions()[1]
    assert (track.label, track.kind, track.is_required) == ("Tracks", "several", False)
    assert track.choice_list == ["Python", "SQL", "Rust"]

    db.session.add(QuestionAnswer(question_id=track.id, invitation_id=_invitation_id(event, make_person), value="Rust"))
    db.session.commit()
    removed = client.post(f"/events/{event.id}/questions/{track.id}/delete", data={"csrf_token": csrf_from(edit_page.data)})
    assert removed.status_code == 303
    assert [q.label for q in questions()] == ["Dietary preference for the lunch?"]
    assert db.session.scalar(select(func.count(QuestionAnswer.id))) == 0, "its answers go with it"


def _invitation_id(event, make_person) -> int:
    invite_with_token(event, make_person())
    return db.session.scalar(select(Invitation.id))


def test_bad_questions_are_refused_with_a_message_and_nothing_is_stored(client, login, make_event):
    event = training(make_event, organiser=login())
    for fields, message in (
        ({"label": "Track?", "kind": "one", "choices": "Only one"}, "at least two choices"),
        ({"label": "Size\x1b?", "kind": "text"}, "contains the control character U+001B"),
        ({"label": "", "kind": "text"}, "Write the question."),
        ({"label": "Pick", "kind": "several", "choices": "A\nB\x00"}, "contains a NUL byte"),
        ({"label": "Pick", "kind": "several", "choices": "\n".join(str(n) for n in range(21))}, "at most 20 choices"),
        ({"label": "x" * 201, "kind": "text"}, "200"),
    ):
        response = add(client, event, **fields)
        assert response.status_code in (400, 303), fields
        shown = response.data.decode() if response.status_code == 400 else client.get(response.headers["Location"]).data.decode()
        assert message in shown, (fields, shown)
        assert questions() == []
    no_csrf = client.post(f"/events/{event.id}/questions", data={"label": "Sneaky", "kind": "text"})
    assert no_csrf.status_code == 400 and questions() == []


def test_the_questions_of_a_cancelled_event_cannot_change(client, login, make_event):
    event = training(make_event, organiser=login())
    assert add(client, event, label="Size?").status_code == 303
    event.status = EventStatus.CANCELLED
    db.session.commit()
    response = add(client, event, label="Another")
    assert response.status_code == 303
    assert "cannot change" in client.get(response.headers["Location"]).data.decode()
    assert [q.label for q in questions()] == ["Size?"]


def test_a_question_of_another_event_is_not_found(client, login, make_event):
    organiser = login()
    first, second = training(make_event, organiser=organiser), training(make_event, organiser=organiser)
    ask_three(first)
    assert client.get(f"/events/{second.id}/questions/{questions()[0].id}").status_code == 404


def test_questions_are_for_organisers_only(client, make_event):
    event = training(make_event)
    assert client.get(f"/events/{event.id}/questions").status_code == 302


def test_the_invitee_answers_the_questions_with_a_yes(client, make_person, make_event):
    event = training(make_event)
    track, sessions, text = ask_three(event)
    token = invite_with_token(event, make_person())
    page = client.get(f"/rsvp/{token}").data.decode()
    assert "Which track? <small>(required when you say yes)</small>" in page
    assert f'type="radio" name="q{track.id}" value="SQL"' in page
    assert f'type="checkbox" name="q{sessions.id}" value="Evening"' in page
    answers = {f"q{track.id}": "SQL", f"q{sessions.id}": ["Evening", "Morning"], f"q{text.id}": " Vegan lunch please "}
    assert post_answer(client, token, "yes", **answers).status_code == 303
    assert stored_answers() == {track.id: "SQL", sessions.id: "Morning\nEvening", text.id: "Vegan lunch please"}
    again = client.get(f"/rsvp/{token}").data.decode()
    assert f'name="q{track.id}" value="SQL" checked' in again and 'value="Vegan lunch please"' in again

    assert post_answer(client, token, "yes", **{f"q{track.id}": "Python"}).status_code == 303
    assert stored_answers() == {track.id: "Python"}, "an answer left empty is deleted"


def test_a_yes_without_a_required_answer_is_refused_and_loses_nothing(client, make_person, make_event):
    event = training(make_event)
    track, sessions, text = ask_three(event)
    token = invite_with_token(event, make_person())
    response = post_answer(client, token, "yes", **{f"q{sessions.id}": "Afternoon", f"q{text.id}": "Late arrival"})
    page = response.data.decode()
    assert response.status_code == 400
    assert "Please answer before saying yes: Which track?." in page
    assert f'name="q{sessions.id}" value="Afternoon" checked' in page and 'value="Late arrival"' in page, "what was typed stays"
    db.session.expire_all()
    assert db.session.scalar(select(Invitation.answer)) == Answer.PENDING and stored_answers() == {}

    declined = post_answer(client, token, "no", **{f"q{text.id}": "Next time"})
    assert declined.status_code == 303, "a no needs no answers"
    db.session.expire_all()
    assert db.session.scalar(select(Invitation.answer)) == Answer.NO and stored_answers() == {text.id: "Next time"}


def test_answers_that_do_not_fit_the_question_are_refused(client, make_person, make_event):
    event = training(make_event)
    track, sessions, text = ask_three(event)
    token = invite_with_token(event, make_person())
    for answers, message in (
        ({f"q{track.id}": "Cobol"}, "Choose among the choices offered for &#39;Which track?&#39;."),
        ({f"q{track.id}": ["Python", "SQL"]}, "Choose one answer to &#39;Which track?&#39;."),
        ({f"q{track.id}": "SQL", f"q{text.id}": "bell\x07"}, "contains the control character U+0007"),
        ({f"q{track.id}": "SQL", f"q{text.id}": "x" * 501}, "at most 500 characters"),
    ):
        response = post_answer(client, token, "yes", **answers)
        assert response.status_code == 400 and message in response.data.decode(), answers
        db.session.expire_all()
        assert db.session.scalar(select(Invitation.answer)) == Answer.PENDING and stored_answers() == {}


def test_the_event_page_counts_the_answers_of_the_people_coming_per_choice(client, login, make_person, make_event):
    event = training(make_event, organiser=login(), capacity=10)
    track, sessions, text = ask_three(event)
    for number, (reply, chosen) in enumerate([("yes", "Python"), ("yes", "SQL"), ("yes", "SQL"), ("no", "Python")]):
        token = invite_with_token(event, make_person(name=f"Trainee {number}"))
        answers = {f"q{track.id}": chosen, f"q{sessions.id}": ["Morning", "Evening"]}
        assert post_answer(client, token, reply, **answers).status_code == 303
    token = invite_with_token(event, make_person(name="Zoe Text"))
    post_answer(client, token, "yes", **{f"q{track.id}": "SQL", f"q{text.id}": "I bring my laptop"})
    page = client.get(f"/events/{event.id}").data.decode()
    track_counts = page[page.index(f'id="question-counts-{track.id}"'):]
    assert "4 answered" in track_counts and "<span>Python: 1</span> · <span>SQL: 3</span>" in track_counts
    session_counts = page[page.index(f'id="question-counts-{sessions.id}"'):]
    assert "<span>Morning: 3</span> · <span>Afternoon: 0</span> · <span>Evening: 3</span>" in session_counts
    assert "<li>Zoe Text: I bring my laptop</li>" in page


def test_a_draft_with_questions_can_still_be_deleted(client, login, make_event):
    event = training(make_event, status=EventStatus.DRAFT, organiser=login())
    assert add(client, event, label="Size?").status_code == 303
    page = client.get(f"/events/{event.id}/delete")
    response = client.post(f"/events/{event.id}/delete", data={"csrf_token": csrf_from(page.data)})
    assert response.status_code == 302 and questions() == []
