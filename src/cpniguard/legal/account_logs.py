"""Connectivity logs for a subscriber named by account, name, phone, email or address.

An IP target asks "who had this address then"; a subscriber target asks the other way round:
"which addresses did this subscriber have between these dates". The answer is every
assignment interval in the embedded store whose identity (RADIUS username, router MAC, DHCP
client id, ...) was linked to that subscriber while the interval ran, and which overlaps the
date range the request names.

Scope is kept strictly: a request that names no date range gets no log rows (the desk cannot
hand over every log it keeps because nobody said when), an interval that began before the
range or ended after it is cut at the range's edge and says so, and each row's instant is
inside the range, so the scope checker can verify it like any other row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpniguard.access.actor import Actor
from cpniguard.access.gate import access
from cpniguard.connectivity.links import HOLDER_KINDS, BadLink, normalize
from cpniguard.connectivity.models import IdentityLink
from cpniguard.connectivity.store import EmbeddedLogStore, LogStore
from cpniguard.connectivity.store.schema import (
    ALL_PORTS,
    OPEN_END,
    from_us,
    key_network,
    to_us,
)
from cpniguard.legal.scope import ProducedRow, Scope, zulu
from cpniguard.policy import Action

RESOURCE = "legal:subscriber-logs"
CATEGORY = "connectivity_logs"
# Enough for a year of a household's sessions; a request that reaches it is told so rather
# than answered with a silently truncated list.
MAX_INTERVALS = 50_000
COLUMNS = ("hi", "lo", "plen", "port_first", "port_last", "original_start", "original_end",
           "last_seen", "username", "mac", "client_id", "duid", "circuit_id", "remote_id",
           "device", "source", "flags", "evidence")


@dataclass(frozen=True, slots=True)
class LogAnswer:
    rows: list[ProducedRow]
    note: str = ""


def embedded_root(store: LogStore | None) -> Path | None:
    """The root the range scan reads, or None when the logs live elsewhere (ClickHouse)."""
    if store is None:
        from cpniguard.connectivity.question import Usage
        from cpniguard.quality.services import store_root

        try:
            return store_root()
        except Usage:
            return None
    return store.root if isinstance(store, EmbeddedLogStore) else None


def _links(subscriber: int) -> list[IdentityLink]:
    return list(IdentityLink.objects.filter(subscriber_id=subscriber,
                                            kind__in=list(HOLDER_KINDS.values())))


def _linked_during(record: dict[str, Any], links: list[IdentityLink], start: int,
                   end: int) -> str | None:
    """The identity that ties this interval to the subscriber while both were valid."""
    for field, kind in HOLDER_KINDS.items():
        value = record.get(field)
        if not value:
            continue
        try:
            value = normalize(kind, str(value))
        except BadLink:
            continue
        for link in links:
            if link.kind != kind or link.value != value:
                continue
            if to_us(link.valid_from) < end and (link.valid_to is None
                                                 or to_us(link.valid_to) > start):
                return f"{field}={value}"
    return None


def _rows_of(scope: Scope, number: int, subscriber: int, record: dict[str, Any],
             identity: str, since: int, until: int) -> list[ProducedRow]:
    clause = scope.clause(number, CATEGORY)
    start, end = int(record["original_start"]), int(record["original_end"])
    shown_start = max(start, since)
    address = str(key_network(int(record["hi"]), int(record["lo"]), int(record["plen"])))
    if address.endswith("/32") or address.endswith("/128"):
        address = address.rsplit("/", 1)[0]
    ports = ("" if int(record["port_first"]) == ALL_PORTS
             else f" ports {record['port_first']}-{record['port_last']}")
    begin = zulu(from_us(shown_start)) + (" (in progress when the named range begins)"
                                          if start < since else "")
    if end == OPEN_END:
        finish = "open (no record of its end)"
    elif end > until:
        finish = f"{zulu(from_us(until))} (still in progress when the named range ends)"
    else:
        finish = zulu(from_us(end))
    at = zulu(from_us(shown_start))
    pairs = [("assigned_address", address + ports), ("session_start", begin),
             ("session_end", finish), ("identity", identity),
             ("device", str(record.get("device") or "")),
             ("source", str(record.get("source") or ""))]
    pairs += [("evidence", f"{e['file']}:{e['line']} sha256 {e['sha256']}")
              for e in record.get("evidence") or ()]
    return [ProducedRow(number, subscriber, CATEGORY, field, value, at, clause)
            for field, value in pairs]


def subscriber_logs(actor: Actor, scope: Scope, number: int, subscriber: int,
                    store: LogStore | None) -> LogAnswer:
    """The assignment intervals of one subscriber inside the request's date range."""
    if scope.date_from is None or scope.date_to is None:
        return LogAnswer([], "no connectivity logs: the request names no date range")
    root = embedded_root(store)
    if root is None:
        return LogAnswer([], "no connectivity logs: logs by subscriber are read from the "
                             "embedded store only, and this desk uses another")
    from cpniguard.quality.scan import ScanRange, scan

    since, until = to_us(scope.date_from), to_us(scope.date_to)
    with access(actor, Action.READ, resource=RESOURCE, purpose="legal_process",
                reference=scope.reference, subject=f"subscriber:{subscriber}",
                categories=[CATEGORY], required=[CATEGORY]) as permit:
        links = _links(subscriber)
        wanted: dict[str, set[str]] = {}
        reverse = {kind: field for field, kind in HOLDER_KINDS.items()}
        for link in links:
            wanted.setdefault(reverse[link.kind], set()).add(link.value)
        records: list[dict[str, Any]] = []
        if wanted:
            table = scan(root, ScanRange(since, until + 1), columns=COLUMNS, identities=wanted)
            records = table.to_pylist()
        rows: list[ProducedRow] = []
        kept = 0
        for record in records:
            start, end = int(record["original_start"]), int(record["original_end"])
            if end <= since or start > until:
                continue
            identity = _linked_during(record, links, start, end)
            if identity is None:
                continue
            kept += 1
            if kept > MAX_INTERVALS:
                return LogAnswer(rows, f"more than {MAX_INTERVALS} intervals in the range: "
                                       "narrow the date range")
            rows += _rows_of(scope, number, subscriber, record, identity, since, until)
        permit.touched(["address", "port", "holder", "interval", "evidence"])
    note = "" if kept else "no connectivity logs for this subscriber in the named range"
    return LogAnswer(rows, note)

