"""The RSVP page: a withdrawn invitation offers nothing to press, and tablemates are only the people still coming."""

from sqlalchemy import select

from planner.extensions import db
from planner.models import Answer, Invitation, utcnow
from planner.services import seating
from planner.services.seating import SeatingSettings
from tests.helpers import csrf_from, invite_with_token, marked_sent


def invitation_of(token_person) -> Invitation:
    db.session.expire_all()
    return db.session.scalar(select(Invitation).where(Invitation.person_id == token_person.id))


def test_a_withdrawn_invitation_says_so_and_offers_nothing_to_press(client, make_person, make_event):
    event = marked_sent(make_event)
    person = make_person(name="Una Uninvited")
    token = invite_with_token(event, person, Answer.YES, cancelled_at=utcnow(), comment="See you")
    page = client.get(f"/rsvp/{token}")
    assert page.status_code == 200
    text = page.data.decode()
    assert "withdrawn your invitation" in text
    assert "invites you" not in text and "Your answer" not in text and "yes, I will come" not in text
    assert "<button" not in text and "<form" not in text


def test_a_post_to_a_withdrawn_invitation_is_refused_and_changes_nothing(client, make_person, make_event):
    event = marked_sent(make_event)
    person = make_person()
    token = invite_with_token(event, person, Answer.YES)
    csrf = csrf_from(client.get(f"/rsvp/{token}").data)  # a tab opened before the withdrawal
    invitation_of(person).cancelled_at = utcnow()
    db.session.commit()
    response = client.post(f"/rsvp/{token}", data={"csrf_token": csrf, "answer": "no", "comment": "changed my mind"})
    assert response.status_code == 409
    assert "This invitation was withdrawn" in response.data.decode()
    invitation = invitation_of(person)
    assert invitation.answer == Answer.YES and invitation.comment is None


def test_the_answer_buttons_stay_for_a_standing_invitation(client, make_person, make_event):
    event = marked_sent(make_event)
    token = invite_with_token(event, make_person())
    text = client.get(f"/rsvp/{token}").data.decode()
    assert "invites you" in text and 'value="yes"' in text


def test_tablemates_who_declined_or_were_uninvited_are_no_longer_shown(client, make_person, make_event):
    event = marked_sent(make_event, capacity=10)
    names = ["Ana Able", "Ben Bailed", "Cy Cancelled", "Dee Dinner"]
    people = [make_person(name=name, department=department) for name, department in zip(names, ["A", "B", "C", "D"], strict=True)]
    tokens = [invite_with_token(event, person, Answer.YES) for person in people]
    plan = seating.make_plan(db.session, event, SeatingSettings(min_size=1, max_size=8), seed=0, seconds=0.1)
    seating.publish_plan(plan, utcnow())
    db.session.commit()
    before = client.get(f"/rsvp/{tokens[0]}").data.decode()
    assert all(name in before for name in names[1:]), "everyone sits at one table"

    declined, withdrawn = invitation_of(people[1]), invitation_of(people[2])
    declined.answer, withdrawn.cancelled_at = Answer.NO, utcnow()
    db.session.commit()
    page = client.get(f"/rsvp/{tokens[0]}").data.decode()
    assert 'id="your-table"' in page and "Dee Dinner" in page
    assert "Ben Bailed" not in page and "Cy Cancelled" not in page
    assert 'id="your-table"' not in client.get(f"/rsvp/{tokens[1]}").data.decode()
    assert 'id="your-table"' not in client.get(f"/rsvp/{tokens[2]}").data.decode()
    table = seating.your_table(db.session, invitation_of(people[3]))
    assert table.tablemates == ["Ana Able"]


def test_answering_keeps_no_session_and_says_thank_you_through_the_redirect(client, make_person, make_event):
    event = marked_sent(make_event, capacity=1)
    first, second = make_person(name="Fay First"), make_person(name="Sam Second")
    tokens = {person.id: invite_with_token(event, person) for person in (first, second)}
    for person, shown in ((first, "your answer is saved"), (second, "you are on the waiting list")):
        page = client.get(f"/rsvp/{tokens[person.id]}")
        assert "Set-Cookie" not in page.headers
        response = client.post(f"/rsvp/{tokens[person.id]}", data={"csrf_token": csrf_from(page.data), "answer": "yes"})
        assert response.status_code == 303 and "Set-Cookie" not in response.headers
        answered = "waiting" if person is second else "saved"
        assert response.headers["Location"].endswith(f"/rsvp/{tokens[person.id]}?answered={answered}")
        assert shown in client.get(response.headers["Location"]).data.decode()
    assert invitation_of(first).answer == Answer.YES and invitation_of(second).answer == Answer.WAITLIST
    assert "your answer is saved" not in client.get(f"/rsvp/{tokens[first.id]}").data.decode()


def test_an_answer_needs_the_form_token_of_its_own_invitation(client, make_person, make_event):
    event = marked_sent(make_event)
    mine, other = make_person(), make_person()
    token, other_token = invite_with_token(event, mine), invite_with_token(event, other)
    other_csrf = csrf_from(client.get(f"/rsvp/{other_token}").data)
    session_csrf = csrf_from(client.get("/auth/login").data)
    for data in ({"answer": "yes"}, {"csrf_token": other_csrf, "answer": "yes"}, {"csrf_token": session_csrf, "answer": "yes"}):
        assert client.post(f"/rsvp/{token}", data=data).status_code == 400
    assert invitation_of(mine).answer == Answer.PENDING
    own_csrf = csrf_from(client.get(f"/rsvp/{token}").data)
    assert own_csrf != other_csrf
    assert client.post(f"/rsvp/{token}", data={"csrf_token": own_csrf, "answer": "yes"}).status_code == 303
    assert invitation_of(mine).answer == Answer.YES


def test_an_unknown_answer_or_an_overlong_or_garbled_note_is_refused_with_its_reason_and_changes_nothing(client, make_person, make_event):
    event = marked_sent(make_event)
    person = make_person()
    token = invite_with_token(event, person)
    csrf = csrf_from(client.get(f"/rsvp/{token}").data)
    for data, reason in (({"answer": "perhaps"}, "Choose yes, no or maybe."), ({}, "Choose yes, no or maybe."),
                         ({"answer": "yes", "comment": "x" * 1001}, "can have at most 1000 characters"),
                         ({"answer": "yes", "comment": "a\x00b"}, "The note for the organiser contains a NUL byte"),
                         ({"answer": "no", "comment": "hi\x1b[2J"}, "contains the control character U+001B")):
        response = client.post(f"/rsvp/{token}", data={"csrf_token": csrf, **data})
        assert response.status_code == 400 and reason in response.data.decode(), data
        assert invitation_of(person).answer == Answer.PENDING
    response = client.post(f"/rsvp/{token}", data={"csrf_token": csrf, "answer": "maybe", "comment": "  " + "y" * 1000})
    assert response.status_code == 400, "the note's length counts as sent"
    assert client.post(f"/rsvp/{token}", data={"csrf_token": csrf, "answer": "maybe", "comment": "y" * 1000}).status_code == 303
    stored = invitation_of(person)
    assert stored.answer == Answer.MAYBE and stored.comment == "y" * 1000
