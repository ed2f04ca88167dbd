"""A tag that changes whenever the directory changes in a way a proposal's pool can see, set by the database itself.

The pool of an event (planner.services.eligible) is read once per directory tag and day: at 50,000 people that read
is most of a proposal click. Triggers on `person` give the one row of `directory_tag` a new random tag when a person
is inserted or deleted, or when a column the pool reads changes, whichever statement does it: an import's bulk
upsert, SCIM, an admin's own SQL. A tag is random, so a tag written by a transaction that rolls back is never
current later with other people behind it.

SQLite retags in the writing statement (its writers take turns anyway). PostgreSQL retags at commit, once per
transaction (a deferred trigger): a lock taken at the first write and held to the end could close a circle of waits
with the locks that writers of people take afterwards (events, for one). Until its commit, a transaction on
PostgreSQL sees its own changes under the old tag, so a reader that has written anything does not use the tag
(planner.services.eligible).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, DDL, Integer, event
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

#: the person columns a pool reads (planner.services.planning.proposal_pool and eligible_on)
WATCHED = ("id", "department", "level", "is_active", "is_opted_out", "on_leave_until")

_CHANGED = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in WATCHED)
_SQLITE_RETAG = "UPDATE directory_tag SET tag = random()"
#: a random tag below 2**63 (PostgreSQL's random() is a double in [0, 1))
_POSTGRES_RANDOM = "floor(random() * 9.2e18)::bigint"

#: each dialect's statements that create the retagging triggers (the table and its row exist already)
TRIGGERS = {
    "sqlite": [
        f"CREATE TRIGGER directory_retag_insert AFTER INSERT ON person BEGIN {_SQLITE_RETAG}; END",
        f"CREATE TRIGGER directory_retag_delete AFTER DELETE ON person BEGIN {_SQLITE_RETAG}; END",
        f"CREATE TRIGGER directory_retag_update AFTER UPDATE OF {', '.join(WATCHED)} ON person "
        f"WHEN {_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} BEGIN {_SQLITE_RETAG}; END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION directory_retag() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF current_setting('planner.directory_retagged', true) IS DISTINCT FROM 'yes' THEN "
        "PERFORM set_config('planner.directory_retagged', 'yes', true); "
        f"UPDATE directory_tag SET tag = {_POSTGRES_RANDOM}; END IF; RETURN NULL; END $$",
        "CREATE CONSTRAINT TRIGGER directory_retag_insert_delete AFTER INSERT OR DELETE ON person "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION directory_retag()",
        f"CREATE CONSTRAINT TRIGGER directory_retag_update AFTER UPDATE OF {', '.join(WATCHED)} ON person "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION directory_retag()",
    ],
}

#: each dialect's statement that writes the one row with its first tag
FIRST_TAG = {
    "sqlite": "INSERT INTO directory_tag (id, tag) VALUES (1, random())",
    "postgresql": f"INSERT INTO directory_tag (id, tag) VALUES (1, {_POSTGRES_RANDOM})",
}


class DirectoryTag(db.Model):
    """The directory's current tag: one row, changed by the database on every change a pool can see."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag: Mapped[int] = mapped_column(BigInteger)


def _after_create_all(_metadata, connection, tables=(), **_) -> None:
    """After a create_all that made the tag's table: its first tag, and the triggers on person (made before or now)."""
    if DirectoryTag.__table__ in tables:
        dialect = connection.dialect.name
        for statement in [FIRST_TAG[dialect], *TRIGGERS[dialect]]:
            connection.execute(DDL(statement))


event.listen(db.Model.metadata, "after_create", _after_create_all)
