"""Whether a person may be invited at all: opting out and back in, and leave."""

from datetime import date

from sqlalchemy.orm import Session

from ..errors import PlannerError
from ..models import Person


class AvailabilityError(PlannerError):
    """An availability change that cannot be made."""


def opt_out(session: Session, person: Person) -> None:
    """Stop proposing a person for any event."""
    person.is_opted_out = True
    session.flush()


def opt_in(session: Session, person: Person) -> None:
    """Let new proposals choose a person who had opted out; raise AvailabilityError for an erased person."""
    if person.erased_at is not None:
        raise AvailabilityError("An erased person cannot be invited again; a new directory entry starts afresh.")
    person.is_opted_out = False
    session.flush()


def set_leave(session: Session, person: Person, until: date | None, today: date) -> None:
    """Keep a person out of proposals for events up to and including `until`; None clears the leave."""
    if until is not None and until < today:
        raise AvailabilityError(f"The leave must end today or later, not on {until.isoformat()}.")
    person.on_leave_until = until
    session.flush()


def read_leave_date(text: str) -> date | None:
    """Parse the leave form's date (YYYY-MM-DD, empty for none); raise AvailabilityError when it is not one."""
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise AvailabilityError(f"{text!r} is not a date; use the form YYYY-MM-DD.") from None
