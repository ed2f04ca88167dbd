"""Bulk writes through the driver: one DBAPI executemany of rows already in the form the dialect's driver takes."""

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
    """Insert rows (tuples of the columns' values in the driver's form) with one DBAPI executemany."""
    if rows:
        quote, mark = _quoting(session)
        names = ", ".join(quote.format_column(table.c[name]) for name in columns)
        sql = f"INSERT INTO {quote.format_table(table)} ({names}) VALUES ({', '.join([mark] * len(columns))})"
        session.connection().exec_driver_sql(sql, rows)


def update_many(session: Session, table: Table, columns: Sequence[str], rows: list[tuple], key: str = "id") -> None:
    """Update rows (tuples of the columns' values then the key's, in the driver's form) with one DBAPI executemany."""
    if rows:
        quote, mark = _quoting(session)
        assignments = ", ".join(f"{quote.format_column(table.c[name])} = {mark}" for name in columns)
        sql = f"UPDATE {quote.format_table(table)} SET {assignments} WHERE {quote.format_column(table.c[key])} = {mark}"
        session.connection().exec_driver_sql(sql, rows)


def _quoting(session: Session) -> tuple[IdentifierPreparer, str]:
    dialect = session.get_bind().dialect
    return dialect.identifier_preparer, _MARKS[dialect.paramstyle]
