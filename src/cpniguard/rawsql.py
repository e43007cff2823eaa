"""Plain DB-API access for the two hottest statements paths: the audit append and the record load.

Every audited read runs about ten fixed statements. Through Django's cursor wrapper each one
pays for query conversion, debug hooks and error translation, which together cost more than the
statements themselves on SQLite. These helpers hand out the driver's own cursor on Django's
connection, so the statements still run inside Django's transaction.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connection


def driver_cursor() -> Any:
    """A cursor of the database driver on Django's current connection and transaction."""
    connection.ensure_connection()
    return connection.connection.cursor()


@cache
def _for_vendor(sql: str, vendor: str) -> str:
    # The statements are written with %s placeholders (psycopg's style); sqlite3 wants ?.
    return sql.replace("%s", "?") if vendor == "sqlite" else sql


def for_driver(sql: str) -> str:
    return _for_vendor(sql, connection.vendor)
