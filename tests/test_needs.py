"""Dietary and access needs: asked on lunch and drinks pages, remembered per person, changed or cleared from any RSVP page,
seen only by organisers (counts and a venue list on the event page, as CSV)."""

import csv
import io

from sqlalchemy import func, select

from planner.extensions import db
from planner.models import Answer, EventKind, Invitation, PersonNeeds
from planner.services.needs import needs_section
from tests.helpers import csrf_from, invite_with_token, marked_sent, statements


def answer(client, token, reply="yes", **fields):
    data = {"csrf_token": csrf_from(client.get(f"/rsvp/{token}").data), "answer": reply, **fields}
    return client.post(f"/rsvp/{token}", data=data)


def needs_row(person) -> PersonNeeds | None:
    db.session.expire_all()
    return db.session.scalar(select(PersonNeeds).where(PersonNeeds.person_id == person.id))


def test_a_lunch_page_asks_for_needs_and_a_training_page_links_to_them(client, make_person, make_event):
    person = make_person()
    lunch = client.get(f"/rsvp/{invite_with_token(marked_sent(make_event), person)}")
    page = lunch.data.decode()
    for label in ("Vegetarian", "Vegan", "Gluten-free", "Lactose-free", "Halal", "Kosher", "Nut allergy"):
        assert f"> {label}</label>" in page
    assert 'name="diet_note"' in page and 'name="access_note"' in page and 'name="needs_shown"' in page
    assert lunch.headers["Cache-Control"] == "no-store"
    training = client.get(f"/rsvp/{invite_with_token(marked_sent(make_event, EventKind.TRAINING, title='Training'), person)}").data.decode()
    assert 'name="diet_note"' not in training and "your dietary and access needs</a>" in training


def test_needs_given_with_an_answer_are_remembered_and_offered_on_the_next_event(client, make_person, make_event):
    person = make_person()
    first = invite_with_token(marked_sent(make_event), person)
    needs = {"diets": ["vegan", "nut-allergy"], "diet_note": "No mushrooms\nplease", "access_note": "Step-free access"}
    response = answer(client, first, needs_shown="1", **needs)
    assert response.status_code == 303
    row = needs_row(person)
    assert (row.diets, row.diet_note, row.access_note) == ("vegan,nut-allergy", "No mushrooms\nplease", "Step-free access")

    second = invite_with_token(marked_sent(make_event, EventKind.DRINKS, title="Drinks"), person)
    page = client.get(f"/rsvp/{second}").data.decode()
    assert '<input checked id="diets-1" name="diets" type="checkbox" value="vegan">' in page
    assert '<input checked id="diets-6" name="diets" type="checkbox" value="nut-allergy">' in page
    assert '<input id="diets-0" name="diets" type="checkbox" value="vegetarian">' in page and page.count("checked") == 2
    assert "No mushrooms\nplease</textarea>" in page and "Step-free access</textarea>" in page


def test_an_answer_without_the_needs_fields_leaves_the_needs_alone(client, make_person, make_event):
    person = make_person()
    token = invite_with_token(marked_sent(make_event), person)
    db.session.add(PersonNeeds(person_id=person.id, diets="halal", diet_note="", access_note=""))
    db.session.commit()
    assert answer(client, token, "no").status_code == 303
    assert needs_row(person).diets == "halal"


def test_needs_are_changed_and_cleared_from_any_rsvp_page(client, make_person, make_event):
    person = make_person()
    db.session.add(PersonNeeds(person_id=person.id, diets="vegetarian", diet_note="", access_note="Hearing loop"))
    db.session.commit()
    token = invite_with_token(marked_sent(make_event, EventKind.TRAINING, title="Training"), person)
    page = client.get(f"/rsvp/{token}/needs")
    assert page.headers["Cache-Control"] == "no-store" and "Hearing loop</textarea>" in page.data.decode()
    csrf = csrf_from(page.data)
    change = {"csrf_token": csrf, "action": "save", "diets": ["kosher"], "access_note": ""}
    changed = client.post(f"/rsvp/{token}/needs", data=change)
    assert changed.status_code == 303
    row = needs_row(person)
    assert (row.diets, row.access_note) == ("kosher", "")

    cleared = client.post(f"/rsvp/{token}/needs", data={"csrf_token": csrf, "action": "clear"})
    assert cleared.status_code == 303 and needs_row(person) is None
    assert "Forget my needs" not in client.get(f"/rsvp/{token}/needs").data.decode()


def test_emptying_the_fields_with_an_answer_deletes_the_needs(client, make_person, make_event):
    person = make_person()
    db.session.add(PersonNeeds(person_id=person.id, diets="vegan", diet_note="x", access_note=""))
    db.session.commit()
    assert answer(client, invite_with_token(marked_sent(make_event), person), "maybe", needs_shown="1").status_code == 303
    assert needs_row(person) is None


def test_one_invitees_needs_never_show_on_another_invitees_page(client, make_person, make_event):
    event = marked_sent(make_event)
    alice, bob = make_person(name="Alice"), make_person(name="Bob")
    alice_token, bob_token = invite_with_token(event, alice), invite_with_token(event, bob)
    answer(client, alice_token, diets=["gluten-free"], diet_note="Coeliac: separate toaster", access_note="Wheelchair user",
           needs_shown="1")
    page = client.get(f"/rsvp/{bob_token}").data.decode()
    assert "Coeliac" not in page and "Wheelchair" not in page and "checked" not in page
    needs_page = client.get(f"/rsvp/{bob_token}/needs").data.decode()
    assert "Coeliac" not in needs_page and "Wheelchair" not in needs_page


def test_control_characters_and_overlong_needs_are_refused_and_nothing_is_lost(client, make_person, make_event):
    person = make_person()
    token = invite_with_token(marked_sent(make_event), person)
    for field, value, message in (
        ("diet_note", "nuts\x00", "contains a NUL byte"),
        ("access_note", "ramp\x1b[2J", "contains the control character U+001B"),
        ("diet_note", "x" * 501, "at most 500"),
    ):
        response = answer(client, token, needs_shown="1", diets=["vegan"], **{field: value})
        text = response.data.decode()
        assert response.status_code == 400 and message in text, text
        assert '<input checked id="diets-1" name="diets" type="checkbox" value="vegan">' in text, "the ticks are kept"
        assert f"{value}</textarea>" in text, "the text is kept"
        assert needs_row(person) is None
        db.session.expire_all()
        assert db.session.scalar(select(Invitation.answer)) == Answer.PENDING
    refused = client.post(f"/rsvp/{token}/needs", data={"csrf_token": csrf_from(client.get(f"/rsvp/{token}/needs").data),
                                                        "action": "save", "access_note": "bell\x07"})
    assert refused.status_code == 400 and "U+0007" in refused.data.decode() and needs_row(person) is None
    multiline = answer(client, token, needs_shown="1", diet_note="line one\r\nline two\ttabbed")
    assert multiline.status_code == 303 and needs_row(person).diet_note == "line one\nline two\ttabbed"


def attendees(make_person, event, count):
    """Give an event count people with a yes, every other one with needs."""
    for number in range(count):
        person = make_person(name=f"Guest {number:03d}")
        invite_with_token(event, person, Answer.YES)
        if number % 2 == 0:
            db.session.add(PersonNeeds(person_id=person.id, diets="vegetarian,halal", diet_note="", access_note="Lift"))
    db.session.commit()




def test_the_event_page_counts_needs_and_lists_names_with_needs_only(client, login, make_person, make_event):
    organiser = login()
    event = marked_sent(make_event, organiser=organiser, capacity=20)
    attendees(make_person, event, 4)
    declined = make_person(name="Dana Declined", email="dana@example.com", department="Secret Dept")
    invite_with_token(event, declined, Answer.NO)
    db.session.add(PersonNeeds(person_id=declined.id, diets="vegan", diet_note="", access_note=""))
    db.session.commit()
    page = client.get(f"/events/{event.id}").data.decode()
    section = page[page.index('<section id="needs">'):]
    assert "Of 4 people coming:" in section
    assert "<span>vegetarian 2</span>" in section and "<span>halal 2</span>" in section and "vegan" not in section
    assert "<span>access needs 2</span>" in section and "<span>other dietary requirements 0</span>" in section
    venue = section[section.index('id="venue-list"'):section.index("</table>")]
    assert venue.count("<tr>") == 5 and "Guest 000" in venue and "Vegetarian; Halal" in venue and "Dana" not in venue


def test_the_venue_csv_holds_names_and_needs_only_with_every_cell_neutralised(client, login, make_person, make_event):
    organiser = login()
    event = marked_sent(make_event, organiser=organiser)
    hostile = make_person(name="=HYPERLINK(\"http://x\")", email="h@example.com", department="Finance")
    plain = make_person(name="Ann Plain", email="ann@example.com")
    invite_with_token(event, hostile, Answer.YES)
    invite_with_token(event, plain, Answer.YES)
    db.session.add(PersonNeeds(person_id=hostile.id, diets="", diet_note="+1 extra cheese", access_note="@wheelchair"))
    db.session.commit()
    response = client.get(f"/events/{event.id}/venue-list.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.data.decode())))
    assert rows == [
        ["Name", "Dietary requirements", "Access needs"],
        ["'=HYPERLINK(\"http://x\")", "'+1 extra cheese", "'@wheelchair"],
        ["Ann Plain", "", ""],
    ]
    body = response.data.decode()
    assert "example.com" not in body and "Finance" not in body


def test_the_venue_csv_is_for_organisers_only(client, make_event):
    event = make_event()
    response = client.get(f"/events/{event.id}/venue-list.csv")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_the_needs_section_costs_the_same_statements_for_5_or_50_attendees(app, make_person, make_event):
    small, large = marked_sent(make_event, capacity=60, title="Small"), marked_sent(make_event, capacity=60, title="Large")
    attendees(make_person, small, 5)
    attendees(make_person, large, 50)
    counts = []
    for event_id, coming in ((small.id, 5), (large.id, 50)):
        with statements() as executed:
            section = needs_section(db.session, db.session.get(type(small), event_id))
        assert section.needs.coming == coming and len(section.needs.venue) == coming
        counts.append(len(executed))
    assert counts[0] == counts[1] == 4  # the event, the people coming with their needs, the questions, their answers
    assert db.session.scalar(select(func.count(PersonNeeds.id))) == 3 + 25
