"""RSVP snapshots: read as plain columns, they stand in for the models only while each attribute is named after its column;
an answer by link is recorded on the one read with its event locked."""

import pytest
from sqlalchemy import delete, inspect, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from planner.extensions import db
from planner.mailer import mail_settings
from planner.models import Answer, Event, Invitation, utcnow
from planner.services.rsvp import find_invited, lock_answering, record_link_answer
from planner.tokens import TokenError
from tests.helpers import invite_with_token, marked_sent


def misnamed(model, names) -> dict[str, str | None]:
    """Return {column name: its attribute's name, None when unmapped} for each named column whose attribute is named otherwise."""
    table = model.__table__
    mapped = ((attr.columns[0], attr.key) for attr in inspect(model).column_attrs)
    attributes = {column.name: key for column, key in mapped if table.c.contains_column(column)}
    return {name: attributes.get(name) for name in names if attributes.get(name) != name}


def read_names(snapshot) -> set[str]:
    """Return the column names a snapshot was built from (its event aside)."""
    return set(vars(snapshot)) - {"event"}


class _Base(DeclarativeBase):
    pass


class _Renamed(_Base):
    """A model whose `reply` attribute is stored in the column `answer`: a snapshot of it would offer .answer, not .reply."""

    __tablename__ = "renamed"
    id: Mapped[int] = mapped_column(primary_key=True)
    reply: Mapped[str] = mapped_column("answer")


def test_every_column_a_snapshot_reads_is_named_as_its_model_attribute(app, make_person, make_event):
    """A snapshot's attributes are its columns' names, while the pages and services read them as model attributes
    (invitation.answer, invitation.event.starts_at): an attribute mapped to a column named otherwise would make them read
    a name the snapshot lacks. The names checked are the ones the real lookups give their snapshots, so mapping, say,
    `reply_seq = mapped_column("reply_sequence")` fails here with {"reply_sequence": "reply_seq"} (tried by hand)."""
    token = invite_with_token(marked_sent(make_event), make_person())
    for found in (find_invited(db.session, token), lock_answering(db.session, token)):
        snapshot = found.invitation
        assert read_names(snapshot) and read_names(snapshot.event)
        assert misnamed(Invitation, read_names(snapshot)) == {}
        assert misnamed(Event, read_names(snapshot.event)) == {}


def test_the_check_would_see_an_attribute_named_otherwise_than_its_column():
    assert misnamed(_Renamed, {"id", "answer"}) == {"answer": "reply"}
    assert misnamed(_Renamed, {"id", "gone"}) == {"gone": None}


def test_an_answer_reads_the_invitation_as_stored_and_records_on_that_read(app, make_person, make_event):
    """lock_answering reads the invitation as stored now (with its event locked), not as an object the session holds;
    record_link_answer records on that snapshot and keeps such a loaded object in step, not stale."""
    event = marked_sent(make_event, capacity=5)
    token = invite_with_token(event, make_person())
    loaded = db.session.scalar(select(Invitation).where(Invitation.event_id == event.id))
    db.session.execute(update(Invitation).where(Invitation.id == loaded.id).values(comment="told by mail"),
                       execution_options={"synchronize_session": False})
    answering = lock_answering(db.session, token)
    assert answering.invitation.comment == "told by mail" and loaded.comment is None
    recorded = record_link_answer(db.session, answering.invitation, "yes", utcnow(), " see you ", settings=mail_settings())
    stored = recorded.invitation
    assert recorded.changed and not recorded.passes_seat_on and stored is answering.invitation and (stored.answer, stored.comment) == (Answer.YES, "see you")
    assert (loaded.answer, loaded.comment) == (Answer.YES, "see you")
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Invitation, stored.id).answer == Answer.YES


def test_an_answer_to_an_erased_invitation_finds_nothing_to_lock(app, make_person, make_event):
    event = marked_sent(make_event, capacity=5)
    token = invite_with_token(event, make_person())
    db.session.execute(delete(Invitation).where(Invitation.event_id == event.id))
    with pytest.raises(TokenError):
        lock_answering(db.session, token)
