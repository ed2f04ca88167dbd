"""Everyone invitable on a day, as sorted id, department and level arrays: read once per directory tag and day.

A proposal click at 50,000 people spent most of its time reading every eligible id again. The arrays are kept in
this process, by database, day and directory tag (planner.models.directory_tag), and read again only when the tag
has moved: one indexed statement tells. Several workers each keep their own. A transaction that has written on
PostgreSQL sees its own changes under the old tag, so it reads the arrays afresh and keeps nothing.
"""

from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from threading import Lock

import numpy as np
from sqlalchemy import ColumnElement, String, and_, cast, func, or_, select, text
from sqlalchemy.orm import Session

from ..balance import cell_counts, id_order
from ..models import DirectoryTag, Person

#: how many (database, day, tag) readings a process keeps: a proposal, its replacements, a series' few days ahead
KEPT = 8

_TAG = {
    "postgresql": text("SELECT tag, pg_current_xact_id_if_assigned() IS NULL FROM directory_tag"),
}


@dataclass(frozen=True)
class Eligible:
    """The eligible people of a day, by id: their ids, department codes (positions in departments) and levels."""

    ids: np.ndarray
    department: np.ndarray
    departments: tuple[str, ...]
    level: np.ndarray

    def cells(self) -> Counter:
        """The head count of each (department, level) cell, a new Counter for the caller to change."""
        return Counter(self._cells)

    @cached_property
    def _cells(self) -> Counter:
        return cell_counts(self.department, self.departments, self.level)


def eligible_on(day: date) -> ColumnElement[bool]:
    """The condition on Person of being invitable to an event on day: active, not opted out, not on leave."""
    return and_(
        Person.is_active.is_(True),
        Person.is_opted_out.is_(False),
        or_(Person.on_leave_until.is_(None), Person.on_leave_until < day),
    )


_readings: OrderedDict[tuple, Eligible] = OrderedDict()
_lock = Lock()


def eligible(session: Session, day: date) -> Eligible:
    """The people invitable on day (active, not opted out, not on leave), read afresh only when the directory changed."""
    tag = current_tag(session)
    if tag is None:
        return _read(session, day)
    key = (session.get_bind().url.render_as_string(hide_password=True), day, tag)
    with _lock:
        found = _readings.get(key)
        if found is not None:
            _readings.move_to_end(key)
            return found
    found = _read(session, day)
    with _lock:
        _readings[key] = found
        while len(_readings) > KEPT:
            _readings.popitem(last=False)
    return found


def current_tag(session: Session) -> int | None:
    """The directory's tag, or None when this transaction may hold changes the tag does not show yet (PostgreSQL)."""
    statement = _TAG.get(session.get_bind().dialect.name)
    if statement is None:  # None, too, for a schema without its tag row (emptied by hand): nothing is kept then
        return session.scalar(select(DirectoryTag.tag))
    row = session.execute(statement).first()
    return row[0] if row is not None and row[1] else None


def _read(session: Session, day: date) -> Eligible:
    """One grouped statement: every eligible id as one comma-separated text per (department, level), then sorted by id.

    No row per person is built, in the database driver or here.
    """
    cells = session.execute(
        select(Person.department, Person.level, func.aggregate_strings(cast(Person.id, String), ","))
        .where(eligible_on(day))
        .group_by(Person.department, Person.level)
    ).all()
    departments = tuple(sorted({department for department, _, _ in cells}))
    parts = [np.fromstring(ids, np.int64, sep=",") for _, _, ids in cells]
    sizes = [len(ids) for ids in parts]
    ids = np.concatenate(parts) if parts else np.empty(0, np.int64)
    code = np.repeat(np.array([departments.index(department) for department, _, _ in cells], np.int64), sizes)
    level = np.repeat(np.array([level for _, level, _ in cells], np.int64), sizes)
    order = id_order(ids)
    found = Eligible(ids[order], code[order], departments, level[order])
    for array in (found.ids, found.department, found.level):
        array.flags.writeable = False  # shared by every proposal of this tag and day
    return found
