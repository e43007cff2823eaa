"""FreeRADIUS detail files (v3 and v4), one accounting record at a time.

A record is a ctime header in the server's local time, TAB-indented `Name = value` lines, and a
blank line (or end of file, or the next header) that ends it. Decisions, all made so that an
attribution is never built on a guess:

- One bad line quarantines its whole record: a record missing one attribute could carry the
  wrong time (a lost Acct-Delay-Time) or the wrong identity. The `Quarantined` is reported at the
  record's first line and its reason names the bad line's number; its text is the bad line.
- Records without Acct-Status-Type (authentication detail, e.g. an Access-Request) are
  quarantined, not skipped: they are not accounting, but dropping lines silently is never done.
  Their quarantine text is the header only, because such records carry User-Password.
- Indented lines before any header (a file cut mid-record by rotation) form one quarantined
  record, as does a run of lines that starts with something that is not a ctime header.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from cpniguard.connectivity.clock import local_to_utc, zone
from cpniguard.connectivity.events import (
    Event,
    Evidence,
    Flag,
    Network,
    Quarantined,
    Source,
    numbered,
)
from cpniguard.connectivity.parsers.freeradius_common import (
    BadValue,
    from_epoch,
    normalize_mac,
    parse_host,
    parse_int,
    parse_iso,
    parse_prefix,
)
from cpniguard.connectivity.parsers.radius_values import (
    kind_for_status,
    parse_ctime,
    parse_event_timestamp,
    strip_enum,
    unquote,
)

_T = TypeVar("_T")

# Beyond this the NAS clock, the server clock or the file is wrong, not merely delayed.
CLOCK_TOLERANCE = timedelta(days=1)
# A record has a few dozen attributes; a longer one is a file without blank lines (or garbage),
# and holding it would break the constant-memory promise.
MAX_ATTRIBUTES = 1000

_ATTRIBUTE = re.compile(r"[ \t]+([A-Za-z0-9][\w.\-]*)[ \t]*=[ \t]*(.*)")
_SECRETS = frozenset({"user-password", "chap-password", "ms-chap-challenge", "ms-chap2-response"})
# Attributes that only hold one value; two different values would make the record ambiguous.
_SINGLE = ("Acct-Status-Type", "User-Name", "Acct-Session-Id", "Acct-Unique-Session-Id",
           "Framed-IP-Address", "Framed-IPv6-Address", "Framed-IPv6-Prefix",
           "Delegated-IPv6-Prefix", "NAS-IP-Address", "NAS-IPv6-Address", "Timestamp",
           "Event-Timestamp", "Acct-Delay-Time", "Calling-Station-Id",
           *(f"Acct-{d}-{u}" for d in ("Input", "Output") for u in ("Octets", "Gigawords")))


@dataclass
class _Record:
    start: int
    header: str
    when: datetime | None  # the header as naive local time; None if the header is not ctime
    attributes: list[tuple[str, str]] = field(default_factory=list)
    # Where each attribute first appears (lower-case name → line, text), to point at the line
    # a value error comes from.
    where: dict[str, tuple[int, str]] = field(default_factory=dict)
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # (line, reason, text)


def parse(lines: Iterable[str], source: Source) -> Iterator[Event | Quarantined]:
    zone(source.zone)  # a misconfigured zone is an error of the caller, raised before any data
    record: _Record | None = None
    for number, line in numbered(lines):
        if not line.strip():
            if record is not None:
                yield _finish(record, source)
                record = None
            continue
        if line[0] in " \t":
            if record is None:
                record = _Record(number, line, None)
                record.problems.append((number, "attribute line with no record header", line))
            _add_attribute(record, number, line)
            continue
        try:
            when, bad_header = parse_ctime(line), ""
        except BadValue as error:
            when, bad_header = None, str(error)
        if when is not None or bad_header or record is None:
            # A header without a blank line before it still starts a new record: the previous
            # one was written whole (its lines parsed), only the separator is missing.
            if record is not None:
                yield _finish(record, source)
            record = _Record(number, line, when)
            if when is None:
                record.problems.append((number, bad_header or "not a ctime record header", line))
        else:
            record.problems.append((number, "unindented line inside a record", line))
    if record is not None:
        yield _finish(record, source)


def _add_attribute(record: _Record, number: int, line: str) -> None:
    match = _ATTRIBUTE.fullmatch(line)
    if match is None:
        record.problems.append((number, "not `Name = value`", line))
        return
    value = unquote(match.group(2))
    if value is None:
        record.problems.append((number, "badly quoted value", line))
        return
    if len(record.attributes) >= MAX_ATTRIBUTES:
        if not any(reason.startswith("more than") for _, reason, _ in record.problems):
            record.problems.append((number, f"more than {MAX_ATTRIBUTES} attributes", line))
        return
    record.attributes.append((match.group(1), value))
    record.where.setdefault(match.group(1).lower(), (number, line))


def _finish(record: _Record, source: Source) -> Event | Quarantined:
    if record.problems:
        line, reason, text = record.problems[0]
        more = len(record.problems) - 1
        why = f"line {line}: {reason}; the record starting at line {record.start} is quarantined"
        if more:
            why += f" ({more} more bad line{'s' if more > 1 else ''})"
        if line != record.start:
            text = f"{record.header}\n{text}"
        return Quarantined(source.path, record.start, why, text)
    try:
        return _event(record, source)
    except BadValue as error:
        at = record.where.get(error.attribute.lower())
        if at is None:
            return Quarantined(source.path, record.start,
                               f"record starting at line {record.start}: {error}",
                               record.header)
        return Quarantined(source.path, record.start,
                           f"line {at[0]}: {error}; the record starting at line "
                           f"{record.start} is quarantined", f"{record.header}\n{at[1]}")


def _checked(name: str, check: Callable[[str], _T], text: str) -> _T:
    """`check(text)`, with a failure blamed on attribute `name` (and so on its line)."""
    try:
        return check(text)
    except BadValue as error:
        raise BadValue(f"{name}: {error}", name) from None


class _Attributes:
    """Lookup by name (case-insensitive, as RADIUS dictionaries are) that remembers use."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs
        self.values: dict[str, list[str]] = {}
        for name, value in pairs:
            self.values.setdefault(name.lower(), []).append(value)
        self.used: set[str] = set()
        for name in _SINGLE:
            found = self.values.get(name.lower(), [])
            if len(set(found)) > 1:
                raise BadValue(f"{name} appears with different values: {found!r}", name)

    def get(self, name: str) -> str | None:
        found = self.values.get(name.lower())
        return found[0] if found else None

    def take(self, name: str) -> str | None:
        """Like get, and the attribute is then represented by a field, not kept in `extra`."""
        value = self.get(name)
        if value is not None:
            self.used.add(name.lower())
        return value

    def extra(self) -> list[tuple[str, str]]:
        return [(name, "(redacted)" if name.lower() in _SECRETS else value)
                for name, value in self.pairs if name.lower() not in self.used]


def _event(record: _Record, source: Source) -> Event:
    attrs = _Attributes(record.attributes)
    status = attrs.get("Acct-Status-Type")
    if status is None:
        packet = attrs.get("Packet-Type")
        raise BadValue("not an accounting record (no Acct-Status-Type"
                       + (f"; Packet-Type {strip_enum(packet)})" if packet else ")"))
    kind = kind_for_status(status)
    if kind is None:
        raise BadValue(f"unhandled Acct-Status-Type {status!r}", "Acct-Status-Type")
    attrs.take("Acct-Status-Type")
    at, flags, notes = _time(record, attrs, source)
    addresses = _addresses(attrs)
    address = addresses[0][1] if addresses else None
    session = attrs.take("Acct-Unique-Session-Id") or attrs.take("Acct-Session-Id") or ""
    mac = ""
    calling = attrs.get("Calling-Station-Id")
    if calling is not None and (normal := normalize_mac(calling)) is not None:
        mac = normal
        attrs.take("Calling-Station-Id")
    cause = attrs.take("Acct-Terminate-Cause")
    return Event(
        kind=kind, at=at, evidence=Evidence(source.path, record.start), address=address,
        addresses=addresses, session_id=session, username=attrs.take("User-Name") or "", mac=mac,
        device=_device(attrs), terminate_cause=strip_enum(cause) if cause else "",
        octets_in=_octets(attrs, "Input"), octets_out=_octets(attrs, "Output"),
        flags=frozenset(flags), extra=tuple(attrs.extra() + notes),
    )


def _time(record: _Record, attrs: _Attributes,
          source: Source) -> tuple[datetime, set[Flag], list[tuple[str, str]]]:
    """Event time, its flags, and notes on how it was found (kept as evidence in `extra`)."""
    assert record.when is not None  # records with a bad header were quarantined before
    try:
        header, header_flags = local_to_utc(record.when, source.zone)
    except OverflowError:
        raise BadValue(f"header out of range: {record.header!r}") from None
    flags: set[Flag] = set()
    notes: list[tuple[str, str]] = []
    stamp = attrs.get("Timestamp")
    net_stamp = attrs.get("Net.Timestamp")
    if stamp is not None:
        receive, receive_flags = _instant(stamp, "Timestamp", source.zone)
        if abs(receive - header) > CLOCK_TOLERANCE:
            flags.add(Flag.CLOCK_DISAGREES)
            notes.append(("parser:header-utc", header.isoformat()))
    elif net_stamp is not None:  # v4: when the packet arrived, if Timestamp was not written
        receive, receive_flags = _instant(net_stamp, "Net.Timestamp", source.zone)
    else:
        receive, receive_flags = header, header_flags
    delay_text = attrs.get("Acct-Delay-Time")
    delay = (_checked("Acct-Delay-Time", _integer, delay_text)
             if delay_text is not None else 0)
    try:
        received_event = receive - timedelta(seconds=delay)
    except OverflowError:
        raise BadValue(f"Acct-Delay-Time {delay} reaches before year 1",
                       "Acct-Delay-Time") from None
    device_time = attrs.get("Event-Timestamp")
    if device_time is None:
        return received_event, flags | receive_flags, notes
    try:
        at, at_flags, zone_note = parse_event_timestamp(device_time, source.zone)
    except BadValue as error:
        # e.g. a Russian-locale "февр. 11 2014 16:56:02 EET": no reading is certain, so the
        # receive time is used and the unreadable device time stays as evidence.
        notes.append(("parser:event-timestamp-unparsed", str(error)))
        return received_event, flags | receive_flags, notes
    if zone_note:
        flags.add(Flag.CLOCK_DISAGREES)
        notes.append(("parser:event-timestamp-zone", zone_note))
    if abs(at - received_event) > CLOCK_TOLERANCE:
        flags.add(Flag.CLOCK_DISAGREES)
    # The NAS clock set the event time; the server's receive time is kept to check it against.
    notes.append(("parser:receive-time", received_event.isoformat()))
    return at, flags | at_flags, notes


def _instant(text: str, name: str, zone_name: str) -> tuple[datetime, frozenset[Flag]]:
    try:
        if text.strip().isdigit():
            return from_epoch(parse_int(text, name)), frozenset()
        return parse_iso(text, zone_name)
    except BadValue as error:
        raise BadValue(f"{name} is neither epoch seconds nor ISO 8601 in range: {text!r} "
                       f"({error})", name) from None


def _addresses(attrs: _Attributes) -> tuple[tuple[str, Network], ...]:
    """Every subscriber address of the record, by attribute: IPv4, IPv6, framed and delegated
    prefixes. A dual-stack session holds all of them at once, and each is attributable.

    The first is the record's `address`; the others also stay in `extra` as written.
    Every candidate is validated, since a record carrying a corrupt address is not one to
    trust for the others either.
    """
    found: list[tuple[str, Network]] = []
    for name in ("Framed-IP-Address", "Framed-IPv6-Address"):
        text = attrs.get(name)
        if text is not None:
            found.append((name, _checked(name, parse_host, text)))
            if len(found) == 1:
                attrs.take(name)
    for name in ("Framed-IPv6-Prefix", "Delegated-IPv6-Prefix"):
        text = attrs.get(name)
        if text is not None:
            network, cleared = _checked(name, parse_prefix, text)
            found.append((name, network))
            if len(found) == 1 and not cleared:  # with host bits set, the raw value stays
                attrs.take(name)
    return tuple(found)


def _device(attrs: _Attributes) -> str:
    # The NAS's own claims first; the packet source (v4 Net.Src.IP, v3 Packet-Src-IP-Address)
    # may be a proxy, so it is only the fallback.
    for name in ("NAS-IP-Address", "NAS-IPv6-Address", "NAS-Identifier", "Net.Src.IP",
                 "Packet-Src-IP-Address", "Packet-Src-IPv6-Address"):
        text = attrs.get(name)
        if text is None or not text.strip():
            continue
        if name != "NAS-Identifier":
            _checked(name, parse_host, text)
        attrs.take(name)
        return text.strip()
    return ""


def _octets(attrs: _Attributes, direction: str) -> int | None:
    octets = attrs.get(f"Acct-{direction}-Octets")
    giga = attrs.get(f"Acct-{direction}-Gigawords")
    if octets is None:
        if giga is not None:  # gigawords alone are a partial counter; kept raw in `extra`
            _checked(f"Acct-{direction}-Gigawords", _integer, giga)
        return None
    low = _checked(f"Acct-{direction}-Octets", _integer, octets)
    high = _checked(f"Acct-{direction}-Gigawords", _integer, giga) if giga is not None else 0
    if low >= 1 << 32 or high >= 1 << 32:
        raise BadValue(f"Acct-{direction} counters exceed 32 bits: {octets!r}, {giga!r}",
                       f"Acct-{direction}-Octets")
    attrs.take(f"Acct-{direction}-Octets")
    attrs.take(f"Acct-{direction}-Gigawords")
    return low + (high << 32)


def _integer(text: str) -> int:
    return parse_int(text, "value")


__all__ = ["CLOCK_TOLERANCE", "parse"]
