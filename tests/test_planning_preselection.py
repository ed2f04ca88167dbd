"""Pools pre-selected in the database, or read as columns, choose exactly as the whole pool of Candidates: seeded
directories with history, meetings, newcomers, exclusions, must people, people who cannot come and small cells."""

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select, text

from planner import balance, rounds
from planner.extensions import db
from planner.models import EventExclusion, Invitation, PairMeeting, Person, PlanningMode, ProposalEntry
from planner.services import planning
from planner.services.events import event_day
from tests.helpers import reference_pool

DEPARTMENTS = ("Sales", "Sales", "Sales", "Engineering", "Engineering", "People", "Legal")  # Legal is small


def seeded_directory(make_event, seed):
    """A draft with a proposal over a seeded directory; return the event and the time it is planned at."""
    rng, now = random.Random(seed), datetime.now(UTC).replace(microsecond=0)
    count = rng.choice([30, 120])
    db.session.execute(insert(Person), [
        {"email": f"s{seed}p{i}@example.com", "name": f"Person {i}", "department": rng.choice(DEPARTMENTS),
         "level": rng.choice((0, 0, 1, 1, 2, 3)), "is_active": rng.random() > 0.05, "is_opted_out": rng.random() < 0.05,
         "on_leave_until": date.today() + timedelta(days=60) if rng.random() < 0.05 else None}
        for i in range(count)
    ])
    ids = list(db.session.scalars(select(Person.id).order_by(Person.id)))
    event, past = make_event(capacity=rng.choice([3, 8, 20])), make_event(days_ahead=2, deadline=False)
    invited = rng.sample(ids, count * 2 // 5)
    db.session.execute(insert(Invitation), [
        {"event_id": past.id, "person_id": person, "token_hash": f"s{seed}h{n}",
         "created_at": now - timedelta(days=rng.randrange(400)), "cancelled_at": now if rng.random() < 0.15 else None}
        for n, person in enumerate(invited)
    ])
    day = event_day(event)
    eligible = list(db.session.scalars(select(Person.id).where(planning.eligible_on(day)).order_by(Person.id)))
    chosen = rng.sample(eligible, min(event.capacity, len(eligible) - 2))
    outsider = next(person for person in ids if person not in eligible)  # proposed by hand before they went on leave
    db.session.execute(insert(ProposalEntry), [
        {"event_id": event.id, "person_id": person, "reason": "seeded", "is_must": n < 2}
        for n, person in enumerate([*chosen, outsider])
    ])
    db.session.execute(insert(EventExclusion), [
        {"event_id": event.id, "person_id": person} for person in rng.sample([p for p in ids if p not in chosen], 3)
    ])
    db.session.commit()
    db.session.expire_all()
    return event, now


@pytest.mark.parametrize("seed", range(8))
def test_a_replacement_from_the_pool_columns_is_the_one_from_the_candidates(app, make_event, seed):
    event, now = seeded_directory(make_event, seed)
    selected = [entry.person_id for entry in event.proposals]
    must = planning.must_ids(event)
    columns, _ = planning.proposal_pool(db.session, event, now, selected, lookback_days=180)
    whole = reference_pool(event, now, selected)
    assert columns.ids.tolist() == [candidate.id for candidate in whole]
    for person in selected:
        if person in must:
            continue
        expected = balance.replacement(whole, selected, person, must=must, seed=event.id)
        assert balance.replacement_columns(columns, selected, person, must=must, seed=event.id) == expected
        assert expected is not None


@pytest.mark.parametrize("seed", range(4))
def test_pool_cells_count_the_pool_with_the_proposal_kept(app, make_event, seed):
    event, now = seeded_directory(make_event, seed)
    whole = reference_pool(event, now, [entry.person_id for entry in event.proposals])
    assert planning.pool_cells(db.session, event) == Counter((person.department, person.level) for person in whole)


@pytest.mark.parametrize("seed", range(4))
def test_a_replacement_measures_the_balance_it_leaves_as_proposal_balance_does(app, make_event, seed):
    """Whoever leaves (eligible, on leave, or excluded though proposed), the counts match the database's afterwards."""
    event, now = seeded_directory(make_event, seed)
    leaving = [entry.person_id for entry in event.proposals if not entry.is_must]
    db.session.add(EventExclusion(event_id=event.id, person_id=leaving[0]))
    db.session.commit()
    day = event_day(event)
    assert any(planning.unavailability(db.session.get(Person, person), day) for person in leaving)
    for person in leaving:
        replaced = planning.replace_person(db.session, event, person, now, lookback_days=180)
        assert replaced.balance.pool_cells == planning.pool_cells(db.session, event)
        assert replaced.balance == planning.proposal_balance(db.session, event)


def test_invitation_days_are_utc_days_whatever_zone_the_database_session_reads_in(app, make_event, make_person):
    """The history reads timestamps without the UTC column type; PostgreSQL then answers in its session's zone."""
    event, person = make_event(days_ahead=2), make_person()
    sent = datetime.now(UTC).replace(hour=23, minute=30, second=0, microsecond=0) - timedelta(days=3)  # 2 days on in +14
    db.session.execute(insert(Invitation), {"event_id": event.id, "person_id": person.id, "token_hash": "h", "created_at": sent})
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL TIME ZONE 'Pacific/Kiritimati'"))
    now = sent + timedelta(days=2)
    assert planning.invitation_history(db.session, now, 180)[person.id].last_invited == sent.date()
    pool, _ = planning.proposal_pool(db.session, event, now, [], lookback_days=180)
    assert planning.turn_history(db.session, pool, now, event).invited_on[person.id] == [sent.date()]


def with_meetings_and_newcomers(event, now, seed):
    """Add recent meetings between invited people, two newcomers and a place in another draft to a seeded directory."""
    rng = random.Random(seed)
    invited = sorted(set(db.session.scalars(select(Invitation.person_id))))
    pairs = {tuple(sorted(rng.sample(invited, 2))) for _ in range(len(invited))}
    db.session.execute(insert(PairMeeting), [
        {"person_a_id": a, "person_b_id": b, "event_id": event.id, "met_on": (now - timedelta(days=rng.randrange(1, 300))).date()}
        for a, b in sorted(pairs)
    ])
    fresh = [person for person in db.session.scalars(select(Person.id).order_by(Person.id)) if person not in invited]
    for person in rng.sample(fresh, 2):
        db.session.get(Person, person).joined_on = (now - timedelta(days=rng.randrange(1, 20))).date()
    db.session.commit()


@pytest.mark.parametrize("mode", [PlanningMode.FAIR, PlanningMode.EVEN, PlanningMode.PROPORTIONAL])
@pytest.mark.parametrize("seed", range(6))
def test_a_proposal_from_the_pool_columns_chooses_as_from_the_candidates(app, make_event, seed, mode):
    event, now = seeded_directory(make_event, seed)
    with_meetings_and_newcomers(event, now, seed)
    must = planning.must_ids(event)
    columns, _ = planning.proposal_pool(db.session, event, now, must, lookback_days=180)
    whole = reference_pool(event, now, must)
    assert columns.ids.tolist() == [candidate.id for candidate in whole]
    assert columns.last.tolist() == balance.Columns.of(whole).last.tolist()
    for k in (event.capacity, len(whole) // 2):
        if mode == PlanningMode.FAIR:
            turns = planning.turn_history(db.session, columns, now, event)
            asked = dict(k=k, today=now.date(), invited_on=turns.invited_on, met_on=turns.met_on, joined_on=turns.joined_on,
                         must=must, seed=seed)
            assert rounds.plan_columns(columns, **asked) == rounds.plan_round(whole, **asked)
        else:
            asked = dict(must=must, seed=seed, mode=mode)
            assert balance.select_columns(columns, k, **asked) == balance.select(whole, k, **asked)
