"""Syslog headers and value checks shared by the CGNAT log parsers (Juniper, Cisco, ASA).

Routers write three header shapes, all read here and nothing else:
- BSD (RFC 3164) `Mmm dd HH:MM:SS host ...`: local wall time WITHOUT a year. The year comes from
  a `YearGuess` (see there); the time is converted with `local_to_utc`, which flags the
  fall-back hour and the spring-forward gap instead of picking a reading.
- The same with a year, `Mmm dd yyyy HH:MM:SS` (ASA `logging timestamp`, IOS XR CGN syslog
  writes `yyyy Mmm dd HH:MM:SS`): local wall time with a known year.
- RFC 3339 `2024-06-01T12:00:00.123-05:00` (rsyslog's high-precision template): exact.
An optional `<PRI>` and RFC 5424 version digit before any of them are skipped.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cpniguard.connectivity.clock import local_to_utc, zone
from cpniguard.connectivity.events import Event, Flag, Network, Quarantined, Source, numbered
from cpniguard.connectivity.parsers.freeradius_common import BadValue, parse_iso

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_PRI = r"(?:<\d{1,3}> ?(?:1 )?)?"
_BSD = re.compile(_PRI + r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (?:(\d{4}) )?(\d\d):(\d\d):(\d\d)"
                  r"(?:\.\d+)?:? ?")
_XR = re.compile(_PRI + r"(\d{4}) ([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d) ")
_ISO = re.compile(_PRI + r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) ")


class NoYear(ValueError):
    """Yearless syslog times and no way to date them: a configuration error, never quarantined."""


class YearGuess:
    """The year of a yearless BSD timestamp, decided the same way for every line of a file.

    With `year` given, it is the year of the FIRST record; a month that goes backwards
    (December, then January) moves to the next year. Without it, the file's modification
    time (the last write) is the reference: each line takes the latest year that does not put
    it more than a day after that time. Both rules are exact for files covering less than a
    year, which log rotation guarantees; the choice is recorded in each event's extra.
    """

    def __init__(self, source: Source, year: int | None) -> None:
        self.source = source
        self.year = year
        self.reference: date | None = None
        self.last_month = 0

    def __call__(self, month: int, day: int) -> tuple[int, str]:
        if self.year is not None:
            if self.last_month and month < self.last_month:
                self.year += 1
            self.last_month = month
            return self.year, "given"
        if self.reference is None:  # looked up only once a yearless time is met
            try:
                mtime = Path(self.source.path).stat().st_mtime
            except OSError:
                raise NoYear(f"{self.source.path}: syslog times carry no year; pass year= "
                                 "(the year of the first line) or parse the file itself so "
                                 "its modification time can be used") from None
            self.reference = datetime.fromtimestamp(mtime, zone(self.source.zone)).date()
        ref = self.reference
        try:
            later = date(ref.year, month, day) > ref + timedelta(days=1)
        except ValueError:  # 29 February in a year without one: it must be an earlier year
            later = True
        return ref.year - 1 if later else ref.year, "file-mtime"


@dataclass(frozen=True, slots=True)
class Stamp:
    at: datetime                 # aware UTC
    flags: frozenset[Flag]
    rest: str                    # the line after the timestamp
    extra: tuple[tuple[str, str], ...]


def header(line: str, source: Source, years: YearGuess | None) -> Stamp:
    """The timestamp at the start of a syslog line; `BadValue` if there is none we can read."""
    if m := _ISO.match(line):
        at, flags = parse_iso(m[1], source.zone)
        return Stamp(at, flags, line[m.end():], ())
    if m := _XR.match(line):
        return _local(int(m[1]), m[2], m[3], m.group(4, 5, 6), line[m.end():], source, ())
    if m := _BSD.match(line):
        if m[3]:
            return _local(int(m[3]), m[1], m[2], m.group(4, 5, 6), line[m.end():], source, ())
        if years is None:
            raise BadValue("timestamp without a year")
        month = _MONTHS.get(m[1])
        if month is None:
            raise BadValue(f"unknown month {m[1]!r}")
        year, how = years(month, int(m[2]))
        return _local(year, m[1], m[2], m.group(4, 5, 6), line[m.end():], source,
                      (("year-source", how),))
    raise BadValue("no syslog timestamp at the start of the line")


def _local(year: int, mon: str, day: str, hms: tuple[str | Any, ...], rest: str,
           source: Source, extra: tuple[tuple[str, str], ...]) -> Stamp:
    month = _MONTHS.get(mon)
    if month is None:
        raise BadValue(f"unknown month {mon!r}")
    try:
        hour, minute, second = (int(x) for x in hms)
        naive = datetime(year, month, int(day), hour, minute, second)
    except ValueError as exc:
        raise BadValue(f"impossible date: {exc}") from None
    at, flags = local_to_utc(naive, source.zone)
    return Stamp(at.astimezone(UTC), flags, rest, (*extra, ("local-time", naive.isoformat())))


def host(text: str) -> Network:
    """One address as a /32 (or /128); anything else is `BadValue`."""
    try:
        return ipaddress.ip_network(ipaddress.ip_address(text))
    except ValueError:
        raise BadValue(f"not an IP address: {text!r}") from None


def port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 5 or int(text) > 65535:
        raise BadValue(f"not a port number: {text!r}")
    return int(text)


def port_range(first: str, last: str) -> tuple[int, int]:
    lo, hi = port(first), port(last)
    if lo > hi:
        raise BadValue(f"port range runs backwards: {first}-{last}")
    return lo, hi


EventBuilder = Callable[[str, "re.Match[str]", Source, int, YearGuess], Event]


def parse_tagged(lines: Iterable[str], source: Source, year: int | None, tag: re.Pattern[str],
                 build: EventBuilder) -> Iterator[Event | Quarantined]:
    """The loop the syslog NAT parsers share: lines without the message tag are other traffic
    and skipped; a tagged line that does not parse exactly is quarantined."""
    zone(source.zone)  # an unknown zone is a configuration error, raised before any line
    years = YearGuess(source, year)
    for number, line in numbered(lines):
        found = tag.search(line)
        if found is None:
            continue
        try:
            yield build(line, found, source, number, years)
        except NoYear:
            raise
        except (BadValue, ValueError, OverflowError) as exc:
            yield Quarantined(source.path, number, str(exc), line)
