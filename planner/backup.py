"""Backups: a consistent copy of a SQLite database while the app runs, through SQLite's online backup API."""

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from .errors import PlannerError

PG_DUMP = "pg_dump --format=custom --file=planner.dump \"$DATABASE_URL\"  (restore: pg_restore --clean --dbname=\"$DATABASE_URL\" planner.dump)"


class BackupError(PlannerError):
    """A backup that cannot be made as asked."""


def sqlite_path(database_uri: str) -> Path:
    """Return the file of a SQLite database URI; raise BackupError for other databases, naming their tool."""
    url = make_url(database_uri)
    if url.get_backend_name() != "sqlite":
        raise BackupError(f"This installation uses {url.get_backend_name()}: back it up with {PG_DUMP}")
    if not url.database or url.database == ":memory:":
        raise BackupError("An in-memory database cannot be backed up.")
    return Path(url.database)


def backup_sqlite(database_uri: str, target: Path) -> int:
    """Copy the database into a new file at target, consistently even while others write; return its page count."""
    source_path = sqlite_path(database_uri)
    if not source_path.exists():
        raise BackupError(f"There is no database at {source_path}.")
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file name.")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        with copy:
            source.backup(copy)
        pages = copy.execute("PRAGMA page_count").fetchone()[0]
        if copy.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"The copy at {target} failed its integrity check.")
    finally:
        copy.close()
        source.close()
    return pages
