"""Exports of an event: attendees, answers with notes and the seating plan as safe CSV attachments, for organisers only."""

import csv
import io

from planner.extensions import db
from planner.models import Answer, Seat, SeatingPlan, utcnow
from planner.services.events import event_day
from tests.helpers import sent_event


def rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def prepared(smtp_app, smtp_server, make_person, make_event):
    client, event, _ = sent_event(smtp_app, smtp_server, make_person, make_event, 4)
    invitations = list(event.invitations)
    for invitation, answer in zip(invitations, [Answer.YES, Answer.YES, Answer.NO, Answer.YES]):
        invitation.answer = answer
        invitation.answered_at = utcnow()
    invitations[0].person.name = "=HYPERLINK(\"http://evil\")"
    invitations[1].comment = "+1 vegetarian, please"
    invitations[3].cancelled_at = utcnow()
    db.session.commit()
    return client, event, invitations


def test_attendee_list_is_an_attachment_named_with_the_date_and_formulas_are_neutralised(
    smtp_app, smtp_server, make_person, make_event
):
    client, event, invitations = prepared(smtp_app, smtp_server, make_person, make_event)
    response = client.get(f"/events/{event.id}/exports/attendees.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{event_day(event):%Y-%m-%d}-attendees.csv"'
    table = rows(response)
    assert table[0] == ["Name", "Email", "Department", "Level"]
    names = [row[0] for row in table[1:]]
    assert names == sorted(names, key=str.casefold) and len(names) == 2  # the no and the withdrawn are left out
    assert "'=HYPERLINK(\"http://evil\")" in names


def test_answers_carry_the_notes_and_who_was_withdrawn(smtp_app, smtp_server, make_person, make_event):
    client, event, invitations = prepared(smtp_app, smtp_server, make_person, make_event)
    table = rows(client.get(f"/events/{event.id}/exports/answers.csv"))
    assert table[0] == ["Name", "Email", "Department", "Answer", "Answered at", "Note", "Withdrawn"]
    by_email = {row[1]: row for row in table[1:]}
    assert len(by_email) == 4
    assert by_email[invitations[1].person.email][5] == "'+1 vegetarian, please"
    assert by_email[invitations[2].person.email][3] == "no"
    assert by_email[invitations[3].person.email][6] == "yes"


def test_seating_plan_csv_and_the_printable_page(smtp_app, smtp_server, make_person, make_event):
    client, event, invitations = prepared(smtp_app, smtp_server, make_person, make_event)
    assert rows(client.get(f"/events/{event.id}/exports/seating.csv")) == [["Table", "Name", "Department", "Level"]]
    assert b"printable" not in client.get(f"/events/{event.id}/exports/").data
    plan = SeatingPlan(event_id=event.id, published_at=utcnow())
    first, second = invitations[0].person_id, invitations[1].person_id
    plan.seats = [Seat(person_id=first, table_index=1), Seat(person_id=second, table_index=0)]
    db.session.add(plan)
    db.session.commit()
    table = rows(client.get(f"/events/{event.id}/exports/seating.csv"))
    assert [row[:2] for row in table[1:]] == [["1", invitations[1].person.name], ["2", "'=HYPERLINK(\"http://evil\")"]]
    page = client.get(f"/events/{event.id}/exports/")
    assert f'/events/{event.id}/seating"'.encode() in page.data and b"printable" in page.data
    assert b"Exports" in client.get(f"/events/{event.id}").data


def test_exports_are_for_organisers_only_and_unknown_ones_are_404(smtp_app, smtp_server, make_person, make_event):
    client, event, _ = prepared(smtp_app, smtp_server, make_person, make_event)
    assert client.get(f"/events/{event.id}/exports/nothing.csv").status_code == 404
    assert client.get("/events/999999/exports/attendees.csv").status_code == 404
    stranger = smtp_app.test_client()
    for what in ("attendees", "answers", "seating"):
        assert stranger.get(f"/events/{event.id}/exports/{what}.csv").status_code == 302
