"""Backfill: invite someone in place of an invitee who declined, keeping the event's balance.

A seat is open when it is free and not spoken for: capacity minus the invitations still standing
(not un-invited) that hold a seat, wait for one or may still take one (yes, waitlist, pending and
maybe). Only declines are replaced, one newcomer per decline, and only while a seat is open, so
"Invite N replacements" invites N = min(open seats, declines not yet replaced), oldest decline
first, and pressing it twice invites nobody more. The newcomer is the one `balance.replacement`
picks among the eligible people nobody has invited or excluded yet (least deviation, then the
decliner's own department and level, then rotation). Who replaced whom is kept in the newcomer's
proposal entry ("in place of Name <email>"), which also keeps the proposal equal to the invited;
a decline counts as replaced only while its newcomer is still invited (an offer that expired or a
replacement that was un-invited leaves the decline to be replaced again, and the seat simply free).
"""

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

import numpy as np

from ..balance import Columns, replacement_columns
from ..errors import PlannerError
from ..models import Answer, Event, Invitation, OutgoingMail, Person, ProposalEntry
from ..rounds import plan_columns
from .events import is_open_for_answers, still_invited
from .invites import invite_person
from .locking import lock_event
from .mails import MailSettings
from .planning import REASON_LENGTH, gc_paused, proposal_pool, turn_history

#: how a replacement's proposal entry begins (record_replacement), and the whole reason with the decliner's email
IN_PLACE_OF_LEAD = "in place of "
IN_PLACE_OF = re.compile(rf"^{IN_PLACE_OF_LEAD}.* <([^<>]+)>$")


class BackfillError(PlannerError):
    """A replacement that cannot be invited."""


@dataclass(frozen=True)
class Replacement:
    """One newcomer invited in place of one decline, with the invitation mail queued."""

    declined: Invitation
    newcomer: Person
    mail: OutgoingMail


@dataclass(frozen=True)
class BackfillState:
    """What the event page shows: open seats, who replaced whom, and which declines can still be replaced."""

    open_seats: int
    replaced_by: dict[int, Person]  # decliner's person id -> newcomer
    in_place_of: dict[int, Person]  # newcomer's person id -> decliner
    replaceable: list[Invitation]  # declines not yet replaced, oldest first

    @property
    def can_invite(self) -> int:
        """How many replacements "Invite N replacements" would invite now."""
        return min(self.open_seats, len(self.replaceable))


def open_seats(event: Event) -> int:
    """Seats free and not spoken for: capacity minus standing invitations that did not decline."""
    spoken_for = sum(1 for invitation in still_invited(event) if invitation.answer != Answer.NO)
    return max(event.capacity - spoken_for, 0)


def backfill_state(event: Event, now: datetime) -> BackfillState:
    """Describe the event's replacements for its page; nothing is replaceable once answers are closed."""
    by_email = {invitation.person.email: invitation.person for invitation in event.invitations}
    standing = {invitation.person_id for invitation in still_invited(event)}
    replaced_by, in_place_of = {}, {}
    for entry in event.proposals:
        match = IN_PLACE_OF.match(entry.reason or "")
        if match and match.group(1) in by_email and entry.person_id in standing:  # a withdrawn offer replaced nobody
            declined = by_email[match.group(1)]
            replaced_by[declined.id], in_place_of[entry.person_id] = entry.person, declined
    declines = [inv for inv in still_invited(event) if inv.answer == Answer.NO and inv.person_id not in replaced_by]
    declines.sort(key=lambda invitation: (invitation.answered_at, invitation.id))
    replaceable = declines if is_open_for_answers(event, now) else []
    return BackfillState(open_seats(event), replaced_by, in_place_of, replaceable)


def replace_declined(
    session: Session, event: Event, settings: MailSettings, now: datetime, *, invitation_id: int, lookback_days: int
) -> Replacement:
    """Invite the best replacement for one declined invitation; raise BackfillError when none can be."""
    state = _locked_state(session, event, now)
    declined = next((inv for inv in event.invitations if inv.id == invitation_id), None)
    if declined is None or declined.cancelled_at is not None or declined.answer != Answer.NO:
        raise BackfillError("Only an invitee who declined can be replaced.")
    if declined.person_id in state.replaced_by:
        raise BackfillError(f"{declined.person.name} was already replaced by {state.replaced_by[declined.person_id].name}.")
    if state.open_seats < 1:
        raise BackfillError("No seat is open: every seat is taken, waited for or may still be taken.")
    made = _replace(session, event, declined, settings, now, lookback_days)
    if made is None:
        raise BackfillError(f"Nobody else is available to replace {declined.person.name}.")
    return made


def backfill(session: Session, event: Event, settings: MailSettings, now: datetime, *, lookback_days: int) -> list[Replacement]:
    """Replace as many declines as seats are open, oldest decline first, until nobody is left to invite.

    Raise BackfillError when nobody can be invited at all.
    """
    state = _locked_state(session, event, now)
    if not state.replaceable:
        raise BackfillError("Nobody who declined is left to replace.")
    if state.open_seats < 1:
        raise BackfillError("No seat is open: every seat is taken, waited for or may still be taken.")
    made = []
    for declined in state.replaceable[: state.can_invite]:
        replaced = _replace(session, event, declined, settings, now, lookback_days)
        if replaced is None:
            break
        made.append(replaced)
    if not made:
        raise BackfillError("Nobody else is available to invite.")
    return made


def _locked_state(session: Session, event: Event, now: datetime) -> BackfillState:
    lock_event(session, event.id)
    session.expire(event, ["invitations", "proposals"])
    if not is_open_for_answers(event, now):
        raise BackfillError("Answers for this event are closed, so a replacement could not answer.")
    return backfill_state(event, now)


def _replace(session, event, declined, settings, now, lookback_days) -> Replacement | None:
    kept = [inv.person_id for inv in still_invited(event) if inv.answer != Answer.NO] + [declined.person_id]
    with gc_paused():
        pool = _open_pool(session, event, now, lookback_days)
        if (pool.positions(kept) < 0).any():
            raise BackfillError("Some invitees are missing from the proposal, so the balance cannot be measured.")
        chosen = replacement_columns(_kept_or_new(pool, event, kept), kept, declined.person_id, seed=event.id)
    if chosen is None:
        return None
    newcomer = session.get(Person, chosen)
    record_replacement(event, declined.person, newcomer)
    mail = invite_person(session, event, newcomer, settings, stamp=now)
    session.flush()
    session.expire(event, ["invitations"])
    return Replacement(declined, newcomer, mail)


def record_replacement(event: Event, gone: Person, newcomer: Person) -> None:
    """Keep who replaced whom in the newcomer's proposal entry ("in place of Name <email>")."""
    reason = f"{IN_PLACE_OF_LEAD}{gone.name[: max(REASON_LENGTH - len(gone.email) - 16, 1)]} <{gone.email}>"
    event.proposals.append(ProposalEntry(person=newcomer, reason=reason[:REASON_LENGTH]))


def fair_replacement(session: Session, event: Event, now: datetime, *, lookback_days: int) -> Person | None:
    """Return the one person plan_round adds to the standing invitees (as must) at k = their number + 1, or None.

    Everyone ever invited to the event (also who declined or was withdrawn) and everyone excluded is left out.
    """
    with gc_paused():
        pool = _open_pool(session, event, now, lookback_days)
        standing = [inv.person_id for inv in still_invited(event) if inv.answer != Answer.NO]
        kept = [person_id for person_id, at in zip(standing, pool.positions(standing).tolist()) if at >= 0]
        candidates = _kept_or_new(pool, event, kept)
        if len(candidates) <= len(kept):
            return None
        turns = turn_history(session, pool, now, event)
        chosen = plan_columns(candidates, len(kept) + 1, today=now.date(), invited_on=turns.invited_on, met_on=turns.met_on,
                              joined_on=turns.joined_on, must=kept, seed=event.id)
    added = [person_id for person_id in chosen if person_id not in kept]
    return session.get(Person, added[0]) if added else None


def _open_pool(session: Session, event: Event, now: datetime, lookback_days: int) -> Columns:
    """The event's pool with its whole proposal kept, as columns."""
    return proposal_pool(session, event, now, [entry.person_id for entry in event.proposals], lookback_days=lookback_days)[0]


def _kept_or_new(pool: Columns, event: Event, kept: list[int]) -> Columns:
    """The pool's kept people and those never invited to this event (also not who declined or was withdrawn)."""
    invited = [invitation.person_id for invitation in event.invitations]
    return pool.take(np.flatnonzero(np.isin(pool.ids, kept) | ~np.isin(pool.ids, invited)))
