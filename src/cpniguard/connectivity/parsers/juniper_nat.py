"""Juniper secured port block allocation (PBA) syslog: who held which public port block when.

Reads the MS-DPC / MS-MPC service-PIC messages, one per line, e.g.

    Jun  1 12:00:00 cgn1 (FPC Slot 2, PIC Slot 0) {sset2}[FWNAT]: \
JSERVICES_NAT_PORT_BLOCK_ALLOC: 10.0.0.5 -> 203.0.113.7:2048-2303 0x5aa2f3c1

`inside -> public:first-last [0xHEX]`; the inside address is IPv6 for NAT64. Formats follow
Juniper's "Secured Port Block Allocation" and "Interim Logging for Secured Port Block
Allocation" pages (juniper.net/documentation/us/en/software/junos/interfaces-adaptive-services/
topics/topic-map/secured-port-block-allocation-interim-logging.html).

- ALLOC -> NAT_ALLOCATE; RELEASE -> NAT_RELEASE; ACTIVE (the interim re-send for a block still
  in use) -> NAT_ALLOCATE with ("interim", "true") in extra: it proves the block was held at
  `at`, not that it was allocated then.
- The trailing hex, written by some releases, is the allocation time in UTC epoch seconds. It
  is exact, so an ALLOC's `at` is taken from it; every event carries it as `starts` (for a
  RELEASE or ACTIVE `at` stays the syslog time). When the syslog time is more than
  `_TOLERANCE` away from it on an ALLOC, CLOCK_DISAGREES is set (wrong zone or year).
- Syslog times are local to `source.zone` and have no year: pass `year=` (the year of the
  first line), else the file's modification time is used (see `nat_common.YearGuess`).
- `device` is the syslog host field.

Quarantine rule: a line carrying one of the three message tags that does not parse exactly is
quarantined. Every other line (a router logs many things) is not a NAT record and is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from cpniguard.connectivity.events import (
    Event,
    EventKind,
    Evidence,
    Flag,
    Quarantined,
    Source,
)
from cpniguard.connectivity.parsers.freeradius_common import BadValue, from_epoch
from cpniguard.connectivity.parsers.nat_common import (
    YearGuess,
    header,
    host,
    parse_tagged,
    port_range,
)

_TAG = re.compile(r"\bJSERVICES_NAT_PORT_BLOCK_(ALLOC|RELEASE|ACTIVE):")
_BODY = re.compile(r" (?P<inside>[0-9A-Fa-f.:]+) -> (?P<public>[0-9.]+):(?P<first>\d+)-"
                   r"(?P<last>\d+)(?: 0x(?P<hex>[0-9A-Fa-f]{1,8}))?\s*")
_SSET = re.compile(r"\{([^{}\s]+)\}")
_KIND = {"ALLOC": EventKind.NAT_ALLOCATE, "RELEASE": EventKind.NAT_RELEASE,
         "ACTIVE": EventKind.NAT_ALLOCATE}
# An ALLOC is logged as it happens; beyond a couple of minutes the two clocks disagree.
_TOLERANCE = timedelta(minutes=2)


def parse(lines: Iterable[str], source: Source, *, year: int | None = None
          ) -> Iterator[Event | Quarantined]:
    """Events from Juniper PBA syslog lines; `year` is the year of the first line."""
    return parse_tagged(lines, source, year, _TAG, _event)


def _event(line: str, tag: re.Match[str], source: Source, number: int,
           years: YearGuess) -> Event:
    stamp = header(line[:tag.start()], source, years)
    prefix = stamp.rest.split()
    if not prefix:
        raise BadValue("no host between the timestamp and the message")
    body = _BODY.fullmatch(line, tag.end())
    if body is None:
        raise BadValue("not `inside -> public:first-last [0xHEX]`")
    what = tag[1]
    inside = host(body["inside"])
    public = host(body["public"])
    if public.version != 4:
        raise BadValue("public address is not IPv4")
    first, last = port_range(body["first"], body["last"])
    extra: list[tuple[str, str]] = [("juniper-message", what), *stamp.extra]
    if sset := _SSET.search(stamp.rest):
        extra.append(("service-set", sset[1]))
    at, flags = stamp.at, stamp.flags
    starts: datetime | None = None
    if body["hex"] is not None:
        starts = from_epoch(int(body["hex"], 16))
        extra.append(("allocated-epoch", str(int(body["hex"], 16))))
        if what == "ALLOC":
            extra.append(("syslog-time", at.isoformat()))
            # The epoch is exact; the local syslog time's ambiguity no longer matters.
            flags = frozenset({Flag.CLOCK_DISAGREES}) if abs(at - starts) > _TOLERANCE \
                else frozenset()
            at = starts
    if what == "ACTIVE":
        extra.append(("interim", "true"))
    return Event(kind=_KIND[what], at=at, evidence=Evidence(source.path, number),
                 address=public, inside_address=inside, port_first=first, port_last=last,
                 starts=starts, device=prefix[0], flags=flags, extra=tuple(extra))
