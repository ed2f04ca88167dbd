"""Everything the event page shows, built in one place: the proposal (balance, charts, exclusions) or the answers."""

from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

from flask import current_app, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..charts import BarChart, GridChart, bar_chart, grid_chart
from ..filters import level_name
from ..models import (
    Event,
    EventStatus,
    InboundMail,
    Invitation,
    MailState,
    Organiser,
    OutgoingMail,
    Person,
    ProposalEntry,
    Reminder,
    utcnow,
)
from ..outbox import pending_errors
from ..services import backfill, offers, planning, seating
from ..services.capacity import SeatCount, seat_count
from ..services.needs import NeedsSection, needs_section
from ..services.reminders import event_reminders
from ..services.replies import recent_inbound
from ..services.rsvp import Snapshot


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
    balance = planning.proposal_balance(session, event)
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


#: what the page shows of a person (their dates and search key stay unread)
SHOWN_PERSON = (Person.id, Person.email, Person.name, Person.department, Person.level)
#: what a sent event's page and its backfill state read of an invitation (its tokens and attendance stay unread)
SHOWN_INVITATION = (
    Invitation.id, Invitation.event_id, Invitation.person_id, Invitation.answer, Invitation.answered_at, Invitation.comment,
    Invitation.cancelled_at, Invitation.bounced_at, Invitation.bounce_reason, Invitation.offer_expires_at,
)
_INVITATION_KEYS = tuple(column.key for column in SHOWN_INVITATION)
_PERSON_KEYS = tuple(column.key for column in SHOWN_PERSON)
#: the columns of a sent event that its backfill state, its offers and its answer rows read
_SENT_EVENT_KEYS = ("id", "capacity", "status", "starts_at", "rsvp_deadline_at")


def load_rows(session: Session, event: Event) -> None:
    """Load a draft's proposal entries and invitations with their people: two statements, whatever their number."""
    proposals = selectinload(Event.proposals).joinedload(ProposalEntry.person).load_only(*SHOWN_PERSON)
    invitations = selectinload(Event.invitations).joinedload(Invitation.person).load_only(*SHOWN_PERSON)
    session.execute(select(Event).where(Event.id == event.id).options(invitations, proposals)).unique().scalar_one()


def sent_rows(session: Session, event: Event) -> Snapshot:
    """A sent event as its page reads it, in plain rows rather than objects (a fifth of the cost at 500 invitations): the
    event's columns that the backfill state, the offers and the answer rows read, its invitations with their people, and
    the proposal entries of its replacements ("in place of ...", what backfill.backfill_state reads) with theirs. Two
    statements, whatever the number of invitations; the page is read-only."""
    split = len(_INVITATION_KEYS)
    people, invitations = {}, []
    for row in session.execute(select(*SHOWN_INVITATION, *SHOWN_PERSON).join(Person, Person.id == Invitation.person_id)
                               .where(Invitation.event_id == event.id).order_by(Invitation.id)):
        person = people[row.person_id] = Snapshot(**dict(zip(_PERSON_KEYS, row[split:])))
        invitations.append(Snapshot(**dict(zip(_INVITATION_KEYS, row[:split])), person=person))
    entries = session.execute(
        select(ProposalEntry.person_id, ProposalEntry.reason)
        .where(ProposalEntry.event_id == event.id, ProposalEntry.reason.startswith(backfill.IN_PLACE_OF_LEAD))
        .order_by(ProposalEntry.id))
    proposals = [Snapshot(person_id=person_id, reason=reason, person=people.get(person_id)) for person_id, reason in entries]
    return Snapshot(**{key: getattr(event, key) for key in _SENT_EVENT_KEYS}, invitations=invitations, proposals=proposals)


class AnswerRow(NamedTuple):
    """One invitation as the answers table shows it (templates/events/_answers.html), read once in Python."""

    invitation: Snapshot  #: with .person, read by sent_rows
    level: str
    #: the name of whoever replaced this decline, or of whom this invitee replaced
    replaced_by: str | None
    in_place_of: str | None
    #: a decline still to be replaced while a seat is open
    is_replaceable: bool
    uninvite_url: str
    replace_url: str


def row_url(endpoint: str, **values) -> str:
    """An endpoint's URL for an invitation, with the invitation id left as "{}": url_for once for many rows."""
    return url_for(endpoint, invitation_id=0, **values).replace("/invitations/0/", "/invitations/{}/")


def answer_rows(event: Event | Snapshot, state: backfill.BackfillState) -> list[AnswerRow]:
    """The answers table: each invitation with its level name, replacement names and its two URLs."""
    ladder = current_app.config["LEVELS"]
    uninvite, replace = row_url("changes.uninvite", event_id=event.id), row_url("events.replace_declined", event_id=event.id)
    replaceable = {invitation.id for invitation in state.replaceable} if state.open_seats else set()
    rows = []
    for invitation in event.invitations:
        person_id, level = invitation.person_id, invitation.person.level
        replaced_by, in_place_of = state.replaced_by.get(person_id), state.in_place_of.get(person_id)
        rows.append(AnswerRow(
            invitation,
            ladder[level] if 0 <= level < len(ladder) else str(level),
            replaced_by.name if replaced_by else None,
            in_place_of.name if in_place_of else None,
            invitation.id in replaceable,
            uninvite.format(invitation.id),
            replace.format(invitation.id),
        ))
    return rows


@dataclass(frozen=True)
class EventPage:
    """What templates/events/detail.html shows: the proposal of a draft, or the answers, seats and seating of a sent event."""

    event: Event
    proposal: ProposalPage | None
    answers: Counter
    seats: SeatCount | None
    replacements: backfill.BackfillState | None
    answer_rows: list[AnswerRow]
    #: automatic backfill offers (templates/events/_offers.html), newest first
    offers: list[Snapshot]
    inbound: list[InboundMail]
    seating_overview: seating.PlanOverview | None
    can_seat: bool
    #: the event has begun: attendance can be marked
    has_started: bool
    mail_problems: list[OutgoingMail]
    queued: int
    reminders: list[Reminder]
    needs: NeedsSection


def event_page(session: Session, event: Event, organiser: Organiser) -> EventPage:
    """Build every part of an event's page, so its templates query nothing."""
    is_draft = event.status == EventStatus.DRAFT
    if is_draft:
        load_rows(session, event)
    sent = None if is_draft else sent_rows(session, event)
    replacements = None if is_draft else backfill.backfill_state(sent, utcnow())
    queued = select(func.count(OutgoingMail.id)).where(OutgoingMail.event_id == event.id, OutgoingMail.state == MailState.QUEUED)
    return EventPage(
        event=event,
        proposal=proposal_page(session, event, organiser),
        answers=Counter(invitation.answer for invitation in (event if is_draft else sent).invitations),
        seats=None if is_draft else seat_count(session, event),
        replacements=replacements,
        answer_rows=[] if is_draft else answer_rows(sent, replacements),
        offers=[] if is_draft else offers.event_offers(sent),
        inbound=[] if is_draft else recent_inbound(session, event.id),
        seating_overview=seating.plan_overview(session, event) if event.status == EventStatus.SENT else None,
        can_seat=event.status == EventStatus.SENT,
        has_started=utcnow() >= event.starts_at,
        mail_problems=pending_errors(session, event.id),
        queued=session.scalar(queued),
        reminders=[] if is_draft else event_reminders(session, event.id),
        needs=needs_section(session, event),
    )
