"""The audit log: entries are added with the change, never changed or removed; organiser roles from the command line."""

import pytest
from sqlalchemy import select

from planner.extensions import db
from planner.models import AuditEntry, Organiser, OrganiserRole
from planner.services import audit


def test_an_entry_records_the_organiser_the_object_and_a_one_line_summary(app, make_organiser):
    organiser = make_organiser()
    audit.record(db.session, "event.create", organiser=organiser, subject=("event", 7), summary="Lunch\r\nBcc: x",
                 remote_addr="127.0.0.1")
    db.session.commit()
    entry = db.session.scalar(select(AuditEntry))
    assert (entry.actor, entry.organiser_id, entry.action) == (organiser.email, organiser.id, "event.create")
    assert (entry.subject_type, entry.subject_id, entry.summary) == ("event", 7, "Lunch Bcc: x")
    assert entry.at.tzinfo is not None


def test_an_entry_written_at_once_has_the_columns_of_a_recorded_one(app):
    audit.record(db.session, "answer.record", actor=audit.INVITEE, subject=("invitation", 3), summary="yes via\nlink")
    db.session.flush()
    audit.record_now(db.session, "answer.record", actor=audit.INVITEE, subject=("invitation", 3), summary="yes via\nlink")
    db.session.commit()
    columns = (AuditEntry.organiser_id, AuditEntry.actor, AuditEntry.action, AuditEntry.subject_type, AuditEntry.subject_id,
               AuditEntry.summary, AuditEntry.remote_addr)
    recorded, written = db.session.execute(select(*columns).order_by(AuditEntry.id)).all()
    assert recorded == written == (None, "invitee", "answer.record", "invitation", 3, "yes via link", None)
    assert all(at.tzinfo is not None for at in db.session.scalars(select(AuditEntry.at)))


def test_entries_cannot_be_changed_or_removed_through_the_app(app):
    entry = audit.record(db.session, "auth.login_failed", actor=audit.VISITOR, summary="x@example.com")
    db.session.commit()
    entry.summary = "rewritten"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEntry, entry.id))
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    assert db.session.scalar(select(AuditEntry.summary)) == "x@example.com"


def test_the_first_organiser_is_an_admin_and_later_ones_organisers(app, make_organiser):
    first = make_organiser("first@example.com")
    second = make_organiser("second@example.com")
    viewer = make_organiser("viewer@example.com", role=OrganiserRole.VIEWER)
    assert (first.is_admin, second.is_admin, second.can_change) == (True, False, True)
    assert (viewer.role, viewer.can_change) == (OrganiserRole.VIEWER, False)


def test_organiser_create_takes_a_role_and_is_audited(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["organiser", "create", "first@example.com"], input="a long password\n")
    assert result.exit_code == 0 and "(admin)" in result.output, result.output
    result = runner.invoke(args=["organiser", "create", "look@example.com", "--role", "viewer"], input="a long password\n")
    assert result.exit_code == 0 and "(viewer)" in result.output, result.output
    assert runner.invoke(args=["organiser", "create", "x@example.com", "--role", "king"], input="a long password\n").exit_code
    roles = dict(db.session.execute(select(Organiser.email, Organiser.role)).all())
    assert roles == {"first@example.com": "admin", "look@example.com": "viewer"}
    entries = db.session.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.summary)).all()
    assert entries == [("command line", "organiser.create", "first@example.com as admin"),
                       ("command line", "organiser.create", "look@example.com as viewer")]
