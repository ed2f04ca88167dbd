"""What the proposal part of the event page shows: balance, charts, exclusions."""

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..charts import BarChart, GridChart, bar_chart, grid_chart
from ..filters import level_name
from ..models import Event, EventStatus, Organiser, Person, utcnow
from ..services import planning


@dataclass(frozen=True)
class ProposalPage:
    """The proposal's balance and its pictures, the people left out by hand, and the organiser's own entry."""

    balance: planning.Balance | None
    grid: GridChart | None
    departments: BarChart | None
    levels: BarChart | None
    excluded: list[Person]
    organiser_person: Person | None


def proposal_page(session: Session, event: Event, organiser: Organiser) -> ProposalPage | None:
    """Build the proposal part of a draft event's page; None once the invitations are sent."""
    if event.status != EventStatus.DRAFT:
        return None
    proposed = {entry.person_id for entry in event.proposals}
    me = session.scalar(select(Person).where(Person.email == organiser.email.lower()))
    organiser_person = me if me is not None and me.id not in proposed else None
    excluded = planning.excluded_people(session, event)
    if not event.proposals:
        return ProposalPage(None, None, None, None, excluded, organiser_person)
    balance = planning.proposal_balance(session, event, utcnow(), lookback_days=current_app.config["LOOKBACK_DAYS"])
    departments = sorted(balance.department_targets)
    levels = sorted(balance.level_targets)
    return ProposalPage(
        balance=balance,
        grid=grid_chart(
            departments, [(level, _level(level)) for level in levels], balance.pool_cells, balance.chosen_cells
        ),
        departments=bar_chart(
            [(name, balance.department_counts[name], balance.department_targets[name]) for name in departments]
        ),
        levels=bar_chart([(_level(level), balance.level_counts[level], balance.level_targets[level]) for level in levels]),
        excluded=excluded,
        organiser_person=organiser_person,
    )


def _level(level: int) -> str:
    return level_name(current_app, level)
