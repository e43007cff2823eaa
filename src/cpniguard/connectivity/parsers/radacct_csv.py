"""FreeRADIUS `radacct` rows exported by PostgreSQL `COPY radacct TO ... CSV HEADER`.

One row is one session as the SQL module last left it: its start, its last interim update and,
if the NAS ever sent one, its stop. Decisions:

- Columns are found by header name, case-insensitively, because v3.2.x spells them in
  CamelCase, master adds `groupname`, and a hand-written `COPY (SELECT ...)` reorders them.
- PostgreSQL writes NULL as an unquoted empty field. The csv module cannot tell that from `""`,
  so an empty time is NULL; for text columns both mean "nothing recorded" anyway.
- A row whose stop is NULL is flagged NO_STOP: a lost Stop leaves it open for ever, and only
  the caller (with the interim interval) can decide when it went stale.
- Times carry an offset (timestamptz text). A time without one is read in `source.zone` and
  flagged when that local time is ambiguous or impossible.
- The interim UPDATE overwrites framedipaddress, so a row only proves the session's LAST address;
  that is a property of the table, recorded here only as this note.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime

from cpniguard.connectivity.clock import zone
from cpniguard.connectivity.events import (
    Event,
    EventKind,
    Evidence,
    Flag,
    Network,
    Quarantined,
    Source,
)
from cpniguard.connectivity.parsers.freeradius_common import (
    BadValue,
    normalize_mac,
    parse_host,
    parse_int,
    parse_iso,
    parse_prefix,
)

REQUIRED = ("acctstarttime", "acctstoptime", "username", "nasipaddress")
# At least one of each group: the session's identity, and the address it held.
REQUIRED_ONE_OF = (("acctuniqueid", "acctsessionid"),
                   ("framedipaddress", "framedipv6address", "framedipv6prefix",
                    "delegatedipv6prefix"))
_HOST_COLUMNS = ("framedipaddress", "framedipv6address")
_PREFIX_COLUMNS = ("framedipv6prefix", "delegatedipv6prefix")


class _Tap:
    """Feeds lines to csv.reader and keeps the raw text of the row being read, for quarantine."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self.taken: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken.append(line.rstrip("\r\n"))
        # csv needs the line end to keep a newline inside a quoted field; open_text keeps it,
        # but a caller handing over stripped lines must not have "a\nb" turn into "ab".
        return line if line.endswith("\n") else line + "\n"

    def take(self) -> str:
        text = "\n".join(self.taken)
        self.taken.clear()
        return text


def parse(lines: Iterable[str], source: Source) -> Iterator[Event | Quarantined]:
    zone(source.zone)  # a misconfigured zone is an error of the caller, raised before any data
    tap = _Tap(lines)
    reader = csv.reader(tap, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as error:
        yield Quarantined(source.path, 1, f"unreadable CSV header: {error}", tap.take())
        return
    if header is None:
        return  # an empty file: nothing to parse and nothing dropped
    header_text = tap.take()
    columns, problem = _columns(header)
    if problem:
        # Without the right columns no row can be read for sure; one report, not one per row.
        yield Quarantined(source.path, 1, problem, header_text)
        return
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Quarantined(source.path, start, f"malformed CSV: {error}", tap.take())
            continue
        text = tap.take()
        if not row:
            continue  # an empty physical line holds no field, so nothing is dropped
        if len(row) != len(header):
            yield Quarantined(source.path, start,
                              f"{len(row)} fields where the header has {len(header)}", text)
            continue
        try:
            yield _event(dict(zip(columns, row, strict=True)), start, source)
        except BadValue as error:
            yield Quarantined(source.path, start, str(error), text)


def _columns(header: list[str]) -> tuple[list[str], str]:
    names = [name.strip().lstrip("\ufeff").lower() for name in header]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        return names, f"duplicated header columns: {', '.join(duplicated)}"
    missing = [name for name in REQUIRED if name not in names]
    missing += ["/".join(group) for group in REQUIRED_ONE_OF
                if not any(name in names for name in group)]
    if missing:
        return names, f"not a radacct export: missing columns {', '.join(missing)}"
    return names, ""


def _event(row: dict[str, str], line: int, source: Source) -> Event:
    used: set[str] = set()
    flags: set[Flag] = set()

    def take(name: str) -> str:
        """A non-empty column value, then represented by a field (not repeated in `extra`)."""
        value = row.get(name, "").strip()
        if value:
            used.add(name)
        return value

    def time(name: str) -> datetime | None:
        text = take(name)
        if not text:
            return None
        try:
            utc, time_flags = parse_iso(text, source.zone)
        except BadValue as error:
            raise BadValue(f"{name}: {error}") from None
        flags.update(time_flags)
        return utc

    starts, updated, stops = time("acctstarttime"), time("acctupdatetime"), time("acctstoptime")
    at = updated or starts or stops
    if at is None:
        raise BadValue("no usable time: acctstarttime, acctupdatetime and acctstoptime are NULL")
    if stops is None:
        flags.add(Flag.NO_STOP)
    device = take("nasipaddress")
    if device:
        _inet_host(device, "nasipaddress")
    mac = normalize_mac(row.get("callingstationid", ""))
    if mac:
        used.add("callingstationid")
    octets_in, octets_out = (_counter(take(name), name)
                             for name in ("acctinputoctets", "acctoutputoctets"))
    addresses = _addresses(row, used)
    return Event(
        kind=EventKind.SESSION_ROW, at=at, evidence=Evidence(source.path, line),
        address=addresses[0][1] if addresses else None, addresses=addresses,
        starts=starts, ends=stops,
        session_id=take("acctuniqueid") or take("acctsessionid"), username=take("username"),
        mac=mac or "", device=device, terminate_cause=take("acctterminatecause"),
        octets_in=octets_in, octets_out=octets_out, flags=frozenset(flags),
        extra=tuple((name, value) for name, value in row.items()
                    if value.strip() and name not in used),
    )


def _addresses(row: dict[str, str], used: set[str]) -> tuple[tuple[str, Network], ...]:
    """Every address of the row by column, IPv4 first: a dual-stack session holds them all.

    Every present address is validated; the first is the row's `address`, and the others
    also stay in extra as written.
    """
    found: list[tuple[str, Network]] = []
    for name in (*_HOST_COLUMNS, *_PREFIX_COLUMNS):
        text = row.get(name, "").strip()
        if not text:
            continue
        if name in _HOST_COLUMNS:
            network, cleared = _inet_host(text, name), False
        elif "/" in text:
            try:
                network, cleared = parse_prefix(text)
            except BadValue as error:
                raise BadValue(f"{name}: {error}", name) from None
        else:  # PostgreSQL prints an inet of full length without "/128"
            network, cleared = _inet_host(text, name), False
        found.append((name, network))
        if len(found) == 1 and not cleared:  # a prefix with host bits set stays in extra
            used.add(name)
    return tuple(found)


def _inet_host(text: str, name: str) -> Network:
    """A host from inet text: `192.0.2.1`, or with its full-length `/32` or `/128`.

    An inet like `192.0.2.1/24` names a host inside a subnet; FreeRADIUS never writes that, so
    such a value is a sign the row did not come from it and is refused rather than truncated.
    """
    address, _, length = text.partition("/")
    try:
        network = parse_host(address)
    except BadValue as error:
        raise BadValue(f"{name}: {error}") from None
    if length and length != str(network.max_prefixlen):
        raise BadValue(f"{name}: {text!r} is not a single address")
    return network


def _counter(text: str, name: str) -> int | None:
    # FreeRADIUS already added Gigawords << 32 when it wrote these bigint columns.
    return parse_int(text, name) if text else None
