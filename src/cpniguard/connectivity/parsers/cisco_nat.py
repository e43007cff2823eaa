"""Cisco IOS XR Carrier Grade NAT (CGN / CGv6) syslog: NAT44 and DS-Lite port assignments.

Format from the "Cisco IOS XR Carrier Grade NAT Configuration Guide for the Cisco CRS Router,
Release 5.2.x" (OL-32659-01), chapter "External Logging", section "Syslog Message Format"
(reproduced at easymanua.ls/cisco/grs/manual?p=108). One UDP datagram, written as one line, is

    <PRI>1 YYYY Mmm DD HH:MM:SS HOSTNAME APP-NAME PROCID MSGID [record][record]...

and each record is eleven space-separated fields, `-` where not applicable:

    [EventName L4 OrigSrcIP InsideVRF OrigSrcIPv6 TranslatedSrcIP OrigPort
     TranslatedFirstPort TranslatedLastPort DstIP DstPort]

- UserbasedA / SessionbasedA / SessionbasedAD -> NAT_ALLOCATE; UserbasedW / SessionbasedW /
  SessionbasedWD -> NAT_RELEASE. With bulk port allocation (user-based) L4 is `-` (the block
  covers every protocol, protocol ""); a session-based record has one port, so a `-` last port
  means port_last = port_first.
- Portblockrunout (the pool is exhausted) maps nothing and yields no event.
- DS-Lite: the subscriber is the B4's IPv6 address (OrigSrcIPv6), which becomes
  `inside_address`; the shared IPv4 source (typically 192.0.0.2) is kept in extra.
- The guide does not say which zone the timestamp is in; it is read as local to `source.zone`
  (set "UTC" for routers that log in UTC), so the fall-back hour is flagged, never resolved.

One line may carry several records: each becomes its own event or quarantine, all with the
line's number. Quarantine rule: a line holding a record that starts with a known event name is
a CGN line, and anything in it that does not parse exactly is quarantined; every other line is
not a CGN NAT record and is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from cpniguard.connectivity.clock import zone
from cpniguard.connectivity.events import (
    Event,
    EventKind,
    Evidence,
    Network,
    Quarantined,
    Source,
    numbered,
)
from cpniguard.connectivity.parsers.freeradius_common import BadValue
from cpniguard.connectivity.parsers.nat_common import Stamp, header, host, port, port_range

_EVENTS = {"UserbasedA": EventKind.NAT_ALLOCATE, "SessionbasedA": EventKind.NAT_ALLOCATE,
           "SessionbasedAD": EventKind.NAT_ALLOCATE, "UserbasedW": EventKind.NAT_RELEASE,
           "SessionbasedW": EventKind.NAT_RELEASE, "SessionbasedWD": EventKind.NAT_RELEASE}
_TRIGGER = re.compile(r"\[(?:Userbased[AW]|Sessionbased(?:A|AD|W|WD)|Portblockrunout)[\s\]]")
_RECORDS = re.compile(r"(?:\[[^\[\]]*\])+\s*")
_RECORD = re.compile(r"\[([^\[\]]*)\]")
_L4 = {"-": "", "6": "tcp", "17": "udp", "1": "icmp"}


def parse(lines: Iterable[str], source: Source) -> Iterator[Event | Quarantined]:
    zone(source.zone)  # an unknown zone is a configuration error, raised before any line
    for number, line in numbered(lines):
        start = _TRIGGER.search(line)
        if start is None:
            continue
        try:
            stamp = header(line[:start.start()], source, None)
            device = _device(stamp)
            if not _RECORDS.fullmatch(line, start.start()):
                raise BadValue("text outside the [..] records")
        except (BadValue, ValueError, OverflowError) as exc:
            yield Quarantined(source.path, number, str(exc), line)
            continue
        for record in _RECORD.finditer(line, start.start()):
            fields = record[1].split()
            if fields and fields[0] == "Portblockrunout":
                continue
            try:
                yield _event(fields, stamp, device, source, number)
            except (BadValue, ValueError) as exc:
                yield Quarantined(source.path, number, str(exc), record[0])


def _device(stamp: Stamp) -> str:
    """HOSTNAME, the first header field after the timestamp (`-` when the router sends none)."""
    fields = stamp.rest.split()
    if len(fields) < 4:
        raise BadValue("header lacks HOSTNAME APP-NAME PROCID MSGID")
    return "" if fields[0] == "-" else fields[0]


def _optional(text: str) -> Network | None:
    return None if text == "-" else host(text)


def _event(fields: list[str], stamp: Stamp, device: str, source: Source,
           number: int) -> Event:
    if len(fields) != 11:
        raise BadValue(f"record has {len(fields)} fields, not 11")
    name, l4, src4, vrf, src6, xlated, orig_port, first, last, dst, dst_port = fields
    kind = _EVENTS.get(name)
    if kind is None:
        raise BadValue(f"unknown event name {name!r}")
    if l4 not in _L4:
        raise BadValue(f"unknown L4 protocol {l4!r}")
    public = host(xlated)
    if public.version != 4:
        raise BadValue("translated address is not IPv4")
    v4, v6 = _optional(src4), _optional(src6)
    if (v6 is not None and v6.version != 6) or (v4 is not None and v4.version != 4):
        raise BadValue("original source addresses in the wrong fields")
    inside = v6 or v4
    if inside is None:
        raise BadValue("no original source address")
    if first == "-":
        raise BadValue("no translated port")
    lo, hi = port_range(first, first if last == "-" else last)
    extra: list[tuple[str, str]] = [("cgn-event", name), *stamp.extra]
    if vrf != "-":
        extra.append(("inside-vrf", vrf))
    if v6 is not None and v4 is not None:
        extra.append(("inside-ipv4", str(v4.network_address)))
    if orig_port != "-":
        extra.append(("original-port", str(port(orig_port))))
    if dst != "-":
        extra.append(("destination", str(host(dst).network_address)))
    if dst_port != "-":
        extra.append(("destination-port", str(port(dst_port))))
    return Event(kind=kind, at=stamp.at, evidence=Evidence(source.path, number),
                 address=public, inside_address=inside, port_first=lo, port_last=hi,
                 protocol=_L4[l4], device=device, flags=stamp.flags, extra=tuple(extra))
