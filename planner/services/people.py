"""Staff directory: staged CSV imports with a preview, searching page by page, a person's invitations, the CSV export."""

import csv
import io
import json
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Row, delete, func, select, update
from sqlalchemy.orm import Session, contains_eager

from ..directory import DirectoryError, PersonRow, StaffFile, fold, read_people_csv, search_key
from ..models import Event, Invitation, Person, StagedImport, utcnow
from ..text import safe_cell
from .bulk import driver_value, insert_many, update_many
from .ownership import EVERYTHING

TRACKED = ("name", "department", "level", "joined_on", "is_active")
#: the columns an import writes for a new person and for a changed one (then its id), in the order of its rows
NEW_COLUMNS = ("email", *TRACKED, "search_key", "is_opted_out", "created_at", "updated_at")
CHANGED_COLUMNS = (*TRACKED, "search_key", "updated_at")
EXPORT_COLUMNS = ("email", "name", "department", "level", "joined_on", "active")
PAGE_SIZE = 100
DIRECTORY_ORDER = (Person.department, Person.level.desc(), Person.name, Person.id)


@dataclass(frozen=True)
class PeoplePage:
    """One page of a directory search and the count of every match."""

    people: list[Person]
    total: int
    page: int
    pages: int


@dataclass
class ImportPreview:
    """What confirming a staged import would change."""

    new: list[PersonRow] = field(default_factory=list)
    changed: list[tuple[PersonRow, dict]] = field(default_factory=list)
    unchanged: int = 0
    #: the directory's rows (id, email, name and the tracked columns) of active people not in the file
    missing: list[Row] = field(default_factory=list)
    #: each listed person's id, by email (filled by the preview for the write)
    ids: dict[str, int] = field(default_factory=dict, repr=False)


def stage_import(session: Session, organiser_id: int, filename: str, data: bytes, ladder: list[str]) -> StagedImport:
    """Validate a CSV upload and keep it for confirmation; raise DirectoryError on any bad line."""
    staff = read_people_csv(data, ladder)
    staged = StagedImport(organiser_id=organiser_id, filename=filename[:255], payload=json.dumps(staff.to_json()))
    session.add(staged)
    session.flush()
    return staged


def staged_file(staged: StagedImport) -> StaffFile:
    """Return the rows kept in a staged import and how its file was read."""
    return StaffFile.from_json(json.loads(staged.payload))


def preview_import(session: Session, rows: list[PersonRow]) -> ImportPreview:
    """Compare rows with the directory (read once, columns only): new people, changed fields, active people missing."""
    columns = (Person.id, Person.email, Person.name) + tuple(getattr(Person, name) for name in TRACKED if name != "name")
    existing = {person.email: person for person in session.execute(select(*columns))}
    preview = ImportPreview()
    for row in rows:
        person = existing.pop(row.email, None)
        if person is None:
            preview.new.append(row)
            continue
        preview.ids[row.email] = person.id
        changes = {
            name: (getattr(person, name), getattr(row, name))
            for name in TRACKED
            if getattr(person, name) != getattr(row, name)
        }
        if changes:
            preview.changed.append((row, changes))
        else:
            preview.unchanged += 1
    preview.missing = sorted((p for p in existing.values() if p.is_active), key=lambda p: p.email)
    return preview


def apply_import(session: Session, staged: StagedImport, *, deactivate_missing: bool) -> ImportPreview:
    """Write a staged import to the directory and discard it; raise DirectoryError when it was applied already."""
    rows = staged_file(staged).rows
    claimed = session.execute(
        delete(StagedImport).where(StagedImport.id == staged.id).execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise DirectoryError("This import has already been applied.")
    session.expunge(staged)
    return write_rows(session, rows, deactivate_missing=deactivate_missing)


def write_rows(session: Session, rows: list[PersonRow], *, deactivate_missing: bool) -> ImportPreview:
    """Create or update a person per row, optionally deactivating active people not in rows.

    The directory is read once (the preview's columns); new people are inserted and changed ones
    updated in bulk (planner.services.bulk), their values put in the driver's form once per distinct
    value (no SQLAlchemy bind processing per row), a few statements whatever the number of rows.
    """
    session.flush()
    preview = preview_import(session, rows)
    table = Person.__table__
    joined_on, active = driver_value(session, table.c.joined_on), driver_value(session, table.c.is_active)
    now, opted_out = driver_value(session, table.c.updated_at)(utcnow()), driver_value(session, table.c.is_opted_out)(False)

    def tracked(row: PersonRow) -> tuple:
        key = search_key(row.name, row.email)
        return row.name, row.department, row.level, joined_on(row.joined_on), active(row.is_active), key

    insert_many(session, table, NEW_COLUMNS, [(row.email, *tracked(row), opted_out, now, now) for row in preview.new])
    update_many(session, table, CHANGED_COLUMNS, [(*tracked(row), now, preview.ids[row.email]) for row, _ in preview.changed])
    if deactivate_missing:
        update_many(session, table, ("is_active", "updated_at"), [(active(False), now, person.id) for person in preview.missing])
    if preview.changed or (deactivate_missing and preview.missing):
        _expire_people(session)
    return preview


def deactivate(session: Session, person_ids: list[int]) -> None:
    """Deactivate people as an import that deactivates the people missing from its file does: rows and history stay,
    planning no longer picks them."""
    if person_ids:
        now = utcnow()
        session.execute(update(Person), [{"id": person_id, "is_active": False, "updated_at": now} for person_id in person_ids])
        _expire_people(session, set(person_ids))


def _expire_people(session: Session, person_ids: set[int] | None = None) -> None:
    """Expire the loaded people (those of person_ids, else every one) that a bulk write has changed under them."""
    loaded = [item for item in session.identity_map.values() if isinstance(item, Person)]
    for person in loaded:
        if person_ids is None or person.id in person_ids:
            session.expire(person)


def search_people(
    session: Session, text: str = "", department: str = "", level: int | None = None, *, page: int = 1, per_page: int = PAGE_SIZE
) -> PeoplePage:
    """Return one page of the people matching a search (accents and case ignored) and department and level filters."""
    conditions = _matching(text, department, level)
    total = session.scalar(select(func.count()).select_from(Person).where(*conditions))  # count(*): SQLite counts pages
    pages = max(1, (total + per_page - 1) // per_page)
    page = min(max(page, 1), pages)
    query = select(Person).where(*conditions).order_by(*DIRECTORY_ORDER).limit(per_page).offset((page - 1) * per_page)
    return PeoplePage(list(session.scalars(query)), total, page, pages)


def _matching(text: str, department: str, level: int | None) -> list:
    conditions = []
    if text.strip():
        conditions.append(Person.search_key.contains(fold(text.strip()), autoescape=True))
    if department:
        conditions.append(Person.department == department)
    if level is not None:
        conditions.append(Person.level == level)
    return conditions


def departments(session: Session) -> list[str]:
    """Return every department name in the directory, sorted."""
    return list(session.scalars(select(Person.department).distinct().order_by(Person.department)))


def person_invitations(session: Session, person: Person, visible: ColumnElement[bool] = EVERYTHING) -> list[Invitation]:
    """Return a person's invitations with their events, the latest event first; only those of the events `visible`
    (planner.services.ownership) shows."""
    query = (
        select(Invitation)
        .join(Invitation.event)
        .options(contains_eager(Invitation.event))
        .where(Invitation.person_id == person.id, visible)
        .order_by(Event.starts_at.desc(), Invitation.id.desc())
    )
    return list(session.scalars(query))


def directory_csv(session: Session, ladder: list[str]) -> str:
    """Return the directory as a CSV in the import's columns, every cell safe to open in a spreadsheet; erased people
    are left out (they have no address to import)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for person in session.scalars(select(Person).where(Person.erased_at.is_(None)).order_by(*DIRECTORY_ORDER)):
        level = ladder[person.level] if 0 <= person.level < len(ladder) else person.level
        joined = person.joined_on.isoformat() if person.joined_on else ""
        cells = (person.email, person.name, person.department, level, joined, "yes" if person.is_active else "no")
        writer.writerow([safe_cell(cell) for cell in cells])
    return out.getvalue()
