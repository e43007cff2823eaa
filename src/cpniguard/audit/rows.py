"""Checking stored entries fast enough for a million in seconds: raw SQL, keyset pages, no
model instances.

On SQLite the fast path has the database render each entry's canonical JSON (json_object, in
C), so Python only hashes. (On PostgreSQL rendering row by row in SQL costs more than doing it
in Python, so there Python encodes the raw columns.) The rendered text is trusted for nothing:
an entry passes only if the SHA-256 of that text is its stored entry_hash, i.e. the text *is*
the byte string that was hashed when the entry was written, and it is a faithful rendering of
the stored values. Anything else (a tampered entry, or an odd value the database renders
differently from Python) sends that one entry down the slow path: its raw columns, encoded by
verifier.check_chain, the same code an auditor runs offline, which gives the verdict.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from json.encoder import encode_basestring
from typing import Any

from django.db import DatabaseError, connection

from cpniguard.audit.models import AuditEntry
from cpniguard.audit.verifier import (
    ENTRY_FIELDS,
    TEMPLATE,
    ChainBroken,
    canonical_row,
    check_chain,
    list_json,
)

PAGE = 20_000
_CACHE_LIMIT = 50_000
_PG_TIME = "to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
# Django keeps an aware time in SQLite as 'YYYY-MM-DD HH:MM:SS[.ffffff]', in UTC.
_SQLITE_TIME = ("CASE WHEN length(time) = 19 THEN replace(time, ' ', 'T') || '.000000Z' "
                "ELSE replace(time, ' ', 'T') || 'Z' END")


def _columns() -> str:
    """The columns of a ROW_FIELDS row: time as hashed, lists as their stored JSON text."""
    pg = connection.vendor == "postgresql"
    names = {name: name for name in (*ENTRY_FIELDS, "entry_hash")}
    names["time"] = _PG_TIME if pg else _SQLITE_TIME
    if pg:
        names["categories"], names["fields"] = "categories::text", "fields::text"
    return ", ".join(names.values())


def _canonical_sql() -> str:
    """SQLite: an expression rendering an entry's canonical JSON (see the module docstring)."""
    quote = connection.ops.quote_name
    values = {"time": _SQLITE_TIME,
              "categories": "CASE WHEN json_valid(categories) THEN json(categories) END",
              "fields": "CASE WHEN json_valid(fields) THEN json(fields) END"}
    return "json_object(" + ", ".join(f"'{name}', {values.get(name, quote(name))}"
                                      for name in sorted(ENTRY_FIELDS)) + ")"


class ListText(dict[Any, str]):
    """Stored JSON text of a list -> its canonical JSON; the same few lists recur constantly.

    Pass as `check_chain(..., lists=ListText())` with rows from `stream_rows`."""

    def __missing__(self, text: Any) -> str:
        try:
            value = list_json(json.loads(text))
        except (TypeError, ValueError):
            value = text if isinstance(text, str) else json.dumps(text)
        if len(self) < _CACHE_LIMIT:
            self[text] = value
        return value


def _pages(columns: str, after: int, upto: int | None) -> Iterator[tuple[Any, ...]]:
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    bound = "" if upto is None else " AND seq <= %s"
    sql = (f"SELECT {columns} FROM {table} WHERE seq > %s{bound} "  # noqa: S608
           f"ORDER BY seq LIMIT {PAGE}")
    last = after
    with connection.cursor() as cursor:
        while True:
            cursor.execute(sql, [last] if upto is None else [last, upto])
            page = cursor.fetchall()
            yield from page
            if len(page) < PAGE:
                return
            last = page[-1][0]


def stream_rows(after: int = 0, upto: int | None = None) -> Iterator[tuple[Any, ...]]:
    """Entries with after < seq <= upto, in seq order, as ROW_FIELDS tuples whose categories
    and fields are the stored JSON text (see ListText)."""
    return _pages(_columns(), after, upto)


def check_stored(tree: Any, after: int = 0, upto: int | None = None, *,
                 prev: str) -> tuple[int, str]:
    """check_chain() over the stored entries after < seq <= upto, entry `after` having hash
    `prev`: the database renders, Python hashes, and any entry that does not pass that way is
    judged by check_chain on its raw columns. Returns (next seq, last hash)."""
    expected, sha256, append = after + 1, hashlib.sha256, tree.append
    copy_leaf = sha256(b"\x00").copy
    if connection.vendor != "sqlite":  # rendering costs PostgreSQL more than Python
        return check_chain(stream_rows(after, upto), tree, expected=expected, prev=prev,
                           lists=ListText())
    try:
        rows = _pages(f"seq, {_canonical_sql()}, prev_hash, entry_hash", after, upto)
        for seq, text, prev_hash, digest in rows:
            if seq == expected and prev_hash == prev and text is not None:
                data = text.encode()
                if sha256(data).hexdigest() == digest:
                    leaf = copy_leaf()
                    leaf.update(data)
                    append(leaf.digest())
                    prev, expected = digest, expected + 1
                    continue
            if seq.__class__ is not int:
                raise ChainBroken(expected, f"out of order (found seq {seq!r})")
            expected, prev = check_chain(stream_rows(seq - 1, seq), tree, expected=expected,
                                         prev=prev, lists=ListText())
    except DatabaseError:  # a value SQLite cannot render (a BLOB): check the rest slowly
        return check_chain(stream_rows(expected - 1, upto), tree, expected=expected,
                           prev=prev, lists=ListText())
    return expected, prev


def entry_hash_at(seq: int) -> str | None:
    return (AuditEntry.objects.filter(seq=seq).values_list("entry_hash", flat=True)
            .first())


def next_seq(after: int) -> int | None:
    """The first stored seq above `after`, if any."""
    return (AuditEntry.objects.filter(seq__gt=after).order_by("seq")
            .values_list("seq", flat=True).first())


def canonical_stored(row: tuple[Any, ...], lists: ListText) -> bytes:
    """The canonical bytes of a row from stream_rows (the same as verifier.canonical_row, with
    the fast path check_chain inlines)."""
    e = encode_basestring
    try:
        if row[0].__class__ is not int:
            raise TypeError("seq")
        return (TEMPLATE % (
            e(row[2]), lists[row[9]], e(row[4]), e(row[5]), lists[row[10]], e(row[11]),
            e(row[15]), e(row[16]), e(row[6]), e(row[13]), e(row[7]), e(row[14]), e(row[3]),
            e(row[12]), row[0], e(row[8]), e(row[1]))).encode()
    except TypeError:  # a value of an unexpected type (tampered): encode it generically
        return canonical_row((*row[:9], lists[row[9]], lists[row[10]], *row[11:]))
