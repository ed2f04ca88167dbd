"""Staff directory: staged CSV imports with a preview, and searching."""

import json
from dataclasses import dataclass, field

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from ..directory import DirectoryError, PersonRow, read_people_csv
from ..models import Person, StagedImport

TRACKED = ("name", "department", "level", "joined_on", "is_active")


@dataclass
class ImportPreview:
    """What confirming a staged import would change."""

    new: list[PersonRow] = field(default_factory=list)
    changed: list[tuple[PersonRow, dict]] = field(default_factory=list)
    unchanged: int = 0
    missing: list[Person] = field(default_factory=list)


def stage_import(session: Session, organiser_id: int, filename: str, data: bytes, ladder: list[str]) -> StagedImport:
    """Validate a CSV upload and keep it for confirmation; raise DirectoryError on any bad line."""
    rows = read_people_csv(data, ladder)
    staged = StagedImport(
        organiser_id=organiser_id, filename=filename[:255], payload=json.dumps([row.to_json() for row in rows])
    )
    session.add(staged)
    session.flush()
    return staged


def staged_rows(staged: StagedImport) -> list[PersonRow]:
    """Return the rows kept in a staged import."""
    return [PersonRow.from_json(item) for item in json.loads(staged.payload)]


def preview_import(session: Session, rows: list[PersonRow]) -> ImportPreview:
    """Compare rows with the directory: new people, changed fields, active people missing from the file."""
    existing = {person.email: person for person in session.scalars(select(Person))}
    preview = ImportPreview()
    for row in rows:
        person = existing.pop(row.email, None)
        if person is None:
            preview.new.append(row)
            continue
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
    rows = staged_rows(staged)
    claimed = session.execute(
        delete(StagedImport).where(StagedImport.id == staged.id).execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise DirectoryError("This import has already been applied.")
    session.expunge(staged)
    return write_rows(session, rows, deactivate_missing=deactivate_missing)


def import_file(session: Session, data: bytes, ladder: list[str], *, deactivate_missing: bool) -> ImportPreview:
    """Validate and write a CSV in one step (for the command line); raise DirectoryError on any bad line."""
    return write_rows(session, read_people_csv(data, ladder), deactivate_missing=deactivate_missing)


def write_rows(session: Session, rows: list[PersonRow], *, deactivate_missing: bool) -> ImportPreview:
    """Create or update a person per row, optionally deactivating active people not in rows."""
    preview = preview_import(session, rows)
    by_email = {person.email: person for person in session.scalars(select(Person))}
    for row in rows:
        person = by_email.get(row.email)
        if person is None:
            person = Person(email=row.email)
            session.add(person)
        for name in TRACKED:
            setattr(person, name, getattr(row, name))
    if deactivate_missing:
        for person in preview.missing:
            person.is_active = False
    session.flush()
    return preview


def search_people(
    session: Session, text: str = "", department: str = "", level: int | None = None, include_inactive: bool = True
):
    """Return people matching a free-text search and optional department and level filters."""
    query = select(Person).order_by(Person.department, Person.level.desc(), Person.name)
    if text:
        pattern = f"%{text.strip().lower()}%"
        query = query.where(or_(Person.email.like(pattern), Person.name.ilike(pattern)))
    if department:
        query = query.where(Person.department == department)
    if level is not None:
        query = query.where(Person.level == level)
    if not include_inactive:
        query = query.where(Person.is_active.is_(True))
    return session.scalars(query)


def departments(session: Session) -> list[str]:
    """Return every department name in the directory, sorted."""
    return sorted(session.scalars(select(Person.department).distinct()))

