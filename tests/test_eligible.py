"""The eligible people kept per directory tag: the database retags on every change a pool reads, and only then is the
directory read again (SQLite and PostgreSQL)."""

import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import delete, event, insert, text, update

from planner.directory import PersonRow
from planner.extensions import db
from planner.models import DirectoryTag, Person, utcnow
from planner.services import eligible as kept_pools
from planner.services.people import write_rows
from planner.services.planning import proposal_pool
from tests.helpers import csrf_from

DAY = date(2027, 3, 1)
GROUPED_READ = ("group_concat", "string_agg")


def tag() -> int:
    return db.session.scalar(db.select(DirectoryTag.tag))


def ids_on(day: date = DAY) -> list[int]:
    return kept_pools.eligible(db.session, day).ids.tolist()


class Reads:
    """Counts the grouped reads of the eligible ids the engine runs while it is listened to."""

    def __init__(self):
        self.count = 0

    def __call__(self, _connection, _cursor, statement, *_):
        self.count += any(word in statement for word in GROUPED_READ)


@pytest.fixture
def reads(app):
    counter = Reads()
    event.listen(db.engine, "before_cursor_execute", counter)
    yield counter
    event.remove(db.engine, "before_cursor_execute", counter)


@pytest.mark.parametrize("change", [
    {"department": "Sales"}, {"level": 3}, {"is_active": False}, {"is_opted_out": True}, {"on_leave_until": DAY},
])
def test_a_change_to_a_column_the_pool_reads_retags_the_directory_and_the_pool_shows_it(app, make_person, reads, change):
    people = [make_person(), make_person()]
    assert ids_on() == [people[0].id, people[1].id]
    assert ids_on() == [people[0].id, people[1].id] and reads.count == 1  # the second time from what is kept
    before = tag()
    db.session.execute(update(Person).where(Person.id == people[0].id).values(**change))
    db.session.commit()
    assert tag() != before
    base = kept_pools.eligible(db.session, DAY)
    assert reads.count == 2
    row = {"department": "Engineering", "level": 1, **change}
    if row.get("is_active", True) and not row.get("is_opted_out") and "on_leave_until" not in change:
        at = base.ids.tolist().index(people[0].id)
        assert (base.departments[base.department[at]], int(base.level[at])) == (row["department"], row["level"])
    else:
        assert base.ids.tolist() == [people[1].id]


def test_changes_a_pool_does_not_read_keep_the_tag(app, make_person, reads):
    person = make_person()
    ids_on()
    before = tag()
    person.name, person.joined_on = "Renamed Person", date(2020, 1, 1)
    db.session.commit()
    # setting a watched column to the value it has is no change either
    db.session.execute(update(Person).where(Person.id == person.id).values(department=person.department, level=person.level))
    db.session.commit()
    assert tag() == before
    assert ids_on() == [person.id] and reads.count == 1


def test_people_added_in_bulk_or_deleted_retag_the_directory(app, make_person, reads):
    first = make_person()
    ids_on()
    now = utcnow()
    db.session.execute(insert(Person), [
        {"email": f"bulk{n}@example.com", "name": f"Bulk {n}", "department": "Ops", "level": 0, "search_key": f"bulk {n}",
         "is_active": True, "is_opted_out": False, "created_at": now, "updated_at": now} for n in range(3)
    ])
    db.session.commit()
    assert len(ids_on()) == 4
    db.session.execute(delete(Person).where(Person.id != first.id))
    db.session.commit()
    assert ids_on() == [first.id] and reads.count == 3


def test_a_change_committed_by_another_connection_is_seen(app, make_person):
    person = make_person()
    assert ids_on() == [person.id]
    db.session.commit()
    with db.engine.begin() as other:  # an admin's own SQL, say: not through the app's session
        other.execute(text("UPDATE person SET is_opted_out = :yes WHERE id = :id"), {"yes": True, "id": person.id})
    assert ids_on() == []


def test_a_change_rolled_back_leaves_nothing_behind(app, make_person):
    person = make_person()
    assert ids_on() == [person.id]
    db.session.execute(update(Person).where(Person.id == person.id).values(is_active=False))
    # this transaction sees its own change; whatever it keeps must not outlive the rollback
    assert ids_on() == []
    db.session.rollback()
    assert ids_on() == [person.id]


def test_a_transaction_that_has_written_reads_afresh_and_keeps_nothing_on_postgresql(app, make_person, reads):
    person = make_person()
    ids_on()
    db.session.execute(update(Person).where(Person.id == person.id).values(level=4))
    writing_tag = kept_pools.current_tag(db.session)
    assert ids_on() == [person.id] and reads.count == 2
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        assert writing_tag is None  # the retag waits for the commit
    assert kept_pools.eligible(db.session, DAY).level.tolist() == [4]


def test_each_day_is_read_on_its_own_and_the_arrays_cannot_be_changed(app, make_person, reads):
    away = make_person(on_leave_until=DAY)
    present = make_person()
    assert ids_on(DAY) == [present.id] and ids_on(DAY + timedelta(days=1)) == [away.id, present.id]
    assert reads.count == 2
    with pytest.raises(ValueError):
        kept_pools.eligible(db.session, DAY).ids[0] = 0


def test_without_its_tag_row_the_directory_is_read_every_time(app, make_person, reads):
    person = make_person()
    db.session.execute(delete(DirectoryTag))
    db.session.commit()
    assert ids_on() == [person.id] and ids_on() == [person.id] and reads.count == 2


def test_a_second_propose_click_does_not_read_the_directory_again(client, login, make_person, make_event, reads):
    login()
    for n in range(6):
        make_person(department=("Sales", "Ops")[n % 2], level=n % 3)
    event_row = make_event(capacity=3)
    token = csrf_from(client.get(f"/events/{event_row.id}").data)
    for _ in range(2):
        assert client.post(f"/events/{event_row.id}/propose", data={"csrf_token": token}).status_code == 302
    assert reads.count == 1
    newcomer = make_person(department="Legal", level=0)
    assert client.post(f"/events/{event_row.id}/propose", data={"csrf_token": token}).status_code == 302
    assert reads.count == 2
    pool, _ = proposal_pool(db.session, event_row, utcnow(), [], lookback_days=180)
    assert newcomer.id in pool.ids.tolist()


def test_the_migrations_make_the_tag_and_its_triggers(app, make_person):
    db.drop_all()
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    upgrade(directory=str(Path(__file__).resolve().parents[1] / "migrations"))
    before = tag()
    assert before is not None
    db.session.add(Person(email="migrated@example.com", name="Migrated", department="Ops", level=0))
    db.session.commit()
    assert tag() != before
    assert ids_on() == [db.session.scalar(db.select(Person.id))]
    db.session.remove()
    db.engine.dispose()


def test_writers_of_people_who_then_lock_an_event_do_not_wait_on_each_other_in_a_circle(app, make_person, make_event):
    """One transaction changes a person, then locks an event; another locks that event, then changes a person. A tag
    row updated at each change would be a lock the first holds while it waits for the event: a deadlock. The retag at
    commit is taken last, so the second commits and the first follows."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers take turns: the first write lock keeps the other transaction out altogether")
    first, second, event_id = make_person().id, make_person().id, make_event().id
    before = tag()
    first_changed, event_locked = threading.Event(), threading.Event()
    engine, errors = db.engine, []

    def changing_then_locking():
        with engine.connect() as connection, connection.begin():
            connection.execute(update(Person).where(Person.id == first).values(level=3))
            first_changed.set()
            event_locked.wait(timeout=10)
            connection.execute(text("SELECT id FROM event WHERE id = :id FOR UPDATE"), {"id": event_id})

    def locking_then_changing():
        first_changed.wait(timeout=10)
        with engine.connect() as connection, connection.begin():
            connection.execute(text("SELECT id FROM event WHERE id = :id FOR UPDATE"), {"id": event_id})
            event_locked.set()
            connection.execute(update(Person).where(Person.id == second).values(level=4))

    def run(work):
        try:
            work()
        except Exception as error:  # noqa: BLE001 - the test reports whatever a thread met
            errors.append(error)

    threads = [threading.Thread(target=run, args=(work,)) for work in (changing_then_locking, locking_then_changing)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == [] and not any(thread.is_alive() for thread in threads)
    db.session.expire_all()
    assert tag() != before
    assert sorted(kept_pools.eligible(db.session, DAY).level.tolist()) == [3, 4]


def test_an_import_of_new_and_changed_people_retags_the_directory(app, make_person, reads):
    kept = make_person(email="kept@example.com")
    ids_on()
    rows = [PersonRow(2, "kept@example.com", kept.name, kept.department, kept.level, None, False),
            PersonRow(3, "new@example.com", "New Person", "Ops", 0, None, True)]
    write_rows(db.session, rows, deactivate_missing=False)
    db.session.commit()
    assert ids_on() == [db.session.scalar(db.select(Person.id).where(Person.email == "new@example.com"))]
    assert reads.count == 2
