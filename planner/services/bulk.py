"""Bulk writes through the driver, of rows already in the form the dialect's driver takes: one statement on SQLite (the
rows as one JSON array, read by json_each), one DBAPI executemany elsewhere.

On SQLite a trigger on the table (person has them, planner.models.directory_tag) makes every statement keep a journal of
the pages it changes; one statement for all the rows keeps one, where an executemany kept one per row (an import of
50,000 people took twice as long).
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Column, Table
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import IdentifierPreparer

#: the placeholder of each DBAPI paramstyle that takes values by position
_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def driver_value(session: Session, column: Column) -> Callable[[Any], Any]:
    """Return a function giving what the column's type binds for a value on the session's dialect, one call per distinct
    value (an import binds one timestamp and a few thousand dates fifty thousand times)."""
    dialect = session.get_bind().dialect
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return lambda value: value
    bound: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return bound[value]
        except KeyError:
            return bound.setdefault(value, process(value))

    return convert


def insert_many(session: Session, table: Table, columns: Sequence[str], rows: list[tuple]) -> None:
    """Insert rows (tuples of the columns' values in the driver's form), in their order."""
    if rows:
        quote, mark = _quoting(session)
        names = ", ".join(quote.format_column(table.c[name]) for name in columns)
        if _is_sqlite(session):
            sql = f"INSERT INTO {quote.format_table(table)} ({names}) SELECT {_fields(len(columns))} FROM json_each(?)"
            session.connection().exec_driver_sql(sql, (json.dumps(rows),))
            return
        sql = f"INSERT INTO {quote.format_table(table)} ({names}) VALUES ({', '.join([mark] * len(columns))})"
        session.connection().exec_driver_sql(sql, rows)


def update_many(session: Session, table: Table, columns: Sequence[str], rows: list[tuple], key: str = "id") -> None:
    """Update rows (tuples of the columns' values then the key's, in the driver's form)."""
    if rows:
        quote, mark = _quoting(session)
        target, key_column = quote.format_table(table), quote.format_column(table.c[key])
        if _is_sqlite(session):
            assignments = ", ".join(f"{quote.format_column(table.c[name])} = {_field(n)}" for n, name in enumerate(columns))
            sql = f"UPDATE {target} SET {assignments} FROM json_each(?) WHERE {target}.{key_column} = {_field(len(columns))}"
            session.connection().exec_driver_sql(sql, (json.dumps(rows),))
            return
        assignments = ", ".join(f"{quote.format_column(table.c[name])} = {mark}" for name in columns)
        sql = f"UPDATE {target} SET {assignments} WHERE {key_column} = {mark}"
        session.connection().exec_driver_sql(sql, rows)


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _field(position: int) -> str:
    """The value at this position of json_each's current row (a JSON array of one row's values)."""
    return f"json_extract(value, '$[{position}]')"


def _fields(count: int) -> str:
    return ", ".join(_field(position) for position in range(count))


def _quoting(session: Session) -> tuple[IdentifierPreparer, str]:
    dialect = session.get_bind().dialect
    return dialect.identifier_preparer, _MARKS[dialect.paramstyle]
