"""Kea legal log (forensic logging hook, `kea-legal.CCYYMMDD.txt`), DHCPv4 and DHCPv6.

Each line is `<timestamp> <entry>`. Two timestamp shapes are read:
- the default `%Y-%m-%d %H:%M:%S %Z`: local wall time in `source.zone`. The abbreviation alone
  is ambiguous world-wide (CST), so the zone comes from the source; `local_to_utc` flags the
  fall-back hour and the spring gap. The abbreviation is kept in extra; if it names neither
  reading of that wall time in the zone, CLOCK_DISAGREES is set (the zone is probably wrong).
  In the fall-back hour the abbreviation (CDT/CST) may single out one reading: that reading is
  recorded in extra, but `at` keeps local_to_utc's contract (earlier reading plus the flag).
- `%z` (e.g. `+0200`): an explicit offset, converted exactly.
Any other timestamp format is quarantined, never guessed.

Entries follow the grammar the hook's code writes (see the unit-test strings in the fixtures):
"assigned" (renewals too) -> LEASE_ASSIGN with ends = at + duration; "released" (declines too)
-> LEASE_RELEASE. The manual's stale wording ("renewed", "min", `Address:2001`) is tolerated and
"renewed" -> LEASE_RENEW. Expiry is never logged. Administrator / HA partner commands: add or
update -> LEASE_ASSIGN (ends only when a duration is given), delete -> LEASE_RELEASE (no address
when the delete names a device). Since Kea 3.3.0 continuation lines of a multi-line entry are
marked `-`, either as the line's first character or right after the timestamp; they are joined
to the entry with a newline and the event carries the entry's first line.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from cpniguard.connectivity.clock import local_to_utc, zone
from cpniguard.connectivity.events import (
    Event,
    EventKind,
    Evidence,
    Flag,
    Network,
    Quarantined,
    Source,
    numbered,
)
from cpniguard.connectivity.parsers.dhcp_common import BadValue, hex_of, mac_of

_STAMP = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?:([+-]\d{4})|([A-Za-z]{2,6}|[+-]\d\d)) "
                    r"(.*)", re.DOTALL)
_HEX = r"[0-9a-fA-F]+(?::[0-9a-fA-F]+)*"  # colon octets or plain hex; hex_of() validates
_TEXT = r"(?: \((?P<{}>[^()\n]*)\))?"
_DUR = (r"infinite duration|\d+ seconds|(?:\d+ days )?\d+ hrs \d+ mins? \d+ secs")
_LEASE = re.compile(rf"(?P<what>Address|Prefix): ?(?P<addr>[0-9a-fA-F.:/]+) has been "
                    rf"(?:(?P<verb>assigned|renewed) for (?P<dur>{_DUR}) to|released from) "
                    r"a device with ")
_CMD = re.compile(r"(?P<actor>Administrator|HA partner) (?:(?P<verb>added) a lease of|"
                  r"(?P<upd>updated) information on the lease of) (?:address|prefix): "
                  r"(?P<addr>[0-9a-fA-F.:/]+) to a device with ")
_DEL_ADDR = re.compile(r"(?P<actor>Administrator|HA partner) deleted the lease for address: "
                       r"(?P<addr>[0-9a-fA-F.:/]+)")
_DEL_DEV = re.compile(rf"(?P<actor>Administrator|HA partner) deleted a lease for a device "
                      rf"identified by: (?P<idtype>hw-address|duid) of (?P<id>{_HEX})")
_ID = rf"(?P<key>circuit-id|remote-id|subscriber-id): (?P<hex>{_HEX}){_TEXT.format('text')}"
# The parts after the device's identity, in the order the hook writes them; each is optional.
_PARTS = [re.compile(p, re.DOTALL) for p in (
    rf"hardware address: (?:hwtype=(?P<hwtype>\d+) )?(?P<mac>{_HEX})",
    rf"DUID: (?P<duid>{_HEX})",
    rf"(?: and|,) hardware address: (?:hwtype=\d+ )?(?P<mac>{_HEX})"
    r"(?: \(from (?P<hwsrc>[^()\n]*)\))?",
    rf", client-id: (?P<cid>{_HEX}){_TEXT.format('cidtext')}",
    r" connected via relay at address: (?P<relay>[0-9a-fA-F.:]+)",
    r" for client on link address: (?P<link>[0-9a-fA-F.:]+)",
    r", hop count: (?P<hops>\d+)",
    rf", identified by (?P<ids>{_ID}(?: and {_ID})*)".replace("?P<key>", "?:").replace(
        "?P<hex>", "?:").replace("?P<text>", "?:"),
    rf"(?P<ids2>(?:, (?:circuit-id|remote-id|subscriber-id): {_HEX})+)",
    rf", connected at location interface-id: (?P<ifid>{_HEX}){_TEXT.format('iftext')}",
    rf" for (?P<cmddur>{_DUR})",
    r", context: (?P<context>.*)",
)]

_NAMES = {"cidtext": "client-id-text", "ifid": "interface-id", "iftext": "interface-id-text",
          "hwsrc": "hwaddr-source", "link": "link-address", "hops": "hop-count"}


def _seconds(text: str) -> int | None:
    if text == "infinite duration":
        return None
    if text.endswith(" seconds"):
        return int(text.split()[0])
    nums = [int(n) for n in re.findall(r"\d+", text)]
    days = nums[0] if len(nums) == 4 else 0
    h, m, s = nums[-3:]
    return ((days * 24 + h) * 60 + m) * 60 + s


def _network(text: str) -> Network:
    if "/" in text:
        return ipaddress.ip_network(text)  # strict: a prefix with host bits set is corrupt
    return ipaddress.ip_network(ipaddress.ip_address(text))


def _details(rest: str) -> dict[str, str]:
    """The device/relay parts after `a device with `, strictly in order, all consumed."""
    found: dict[str, str] = {}
    pos = 0
    for part in _PARTS:
        m = part.match(rest, pos)
        if m:
            found.update({k: v for k, v in m.groupdict().items() if v is not None})
            pos = m.end()
    if pos != len(rest):
        raise BadValue(f"unexpected text at {rest[pos:pos + 40]!r}")
    ids = found.pop("ids", "") + found.pop("ids2", "")
    for m in re.finditer(_ID, ids):
        found[m["key"]] = hex_of(m["hex"])
        if m["text"] is not None:
            found[f"{m['key']}-text"] = m["text"]
    return found


def _when(date: str, offset: str | None, abbr: str | None,
          source: Source) -> tuple[datetime, frozenset[Flag], list[tuple[str, str]]]:
    naive = datetime.strptime(date, "%Y-%m-%d %H:%M:%S")
    if offset is not None:
        return datetime.strptime(f"{date} {offset}", "%Y-%m-%d %H:%M:%S %z"), frozenset(), []
    at, flags = local_to_utc(naive, source.zone)
    tz = zone(source.zone)
    # A list, not a set: aware times with the same tzinfo compare equal whatever their fold.
    readings = [naive.replace(tzinfo=tz, fold=f) for f in (0, 1)]
    extra = [("tz-abbreviation", str(abbr))]
    matching = [r for r in readings if r.tzname() == abbr]
    if len(matching) == 2 or readings[0].utcoffset() == readings[1].utcoffset():
        matching = matching[:1]
    if not matching:
        names = sorted({str(r.tzname()) for r in readings})
        flags |= {Flag.CLOCK_DISAGREES}
        extra.append(("tz-abbreviation-mismatch", f"{abbr} is not {'/'.join(names)} in "
                      f"{source.zone}"))
    elif Flag.AMBIGUOUS_LOCAL_TIME in flags and len(matching) == 1:
        extra.append(("abbreviation-reading", matching[0].astimezone(at.tzinfo).isoformat()))
    return at, flags, extra


def _event(entry: str, source: Source, number: int) -> Event:
    m = _STAMP.fullmatch(entry)
    if not m:
        raise BadValue("no `YYYY-MM-DD HH:MM:SS zone` timestamp")
    at, flags, extra = _when(m[1], m[2], m[3], source)
    body = m[4]
    address: Network | None = None
    found: dict[str, str] = {}
    ends: datetime | None = None
    lease = _LEASE.match(body)
    cmd = _CMD.match(body) if not lease else None
    if lease or cmd:
        head = lease or cmd
        assert head is not None
        address = _network(head["addr"])
        found = _details(body[head.end():])
        dur = head["dur"] if lease else found.get("cmddur")
        if lease:
            kind = {"assigned": EventKind.LEASE_ASSIGN, "renewed": EventKind.LEASE_RENEW,
                    None: EventKind.LEASE_RELEASE}[head["verb"]]
        else:
            kind = EventKind.LEASE_ASSIGN
            extra += [("actor", head["actor"]), ("action", head["verb"] or head["upd"])]
        seconds = _seconds(dur) if dur else None
        if dur:
            extra.append(("duration", dur))
        if seconds is not None:
            ends = at + timedelta(seconds=seconds)
    elif d := _DEL_ADDR.fullmatch(body):
        kind, address = EventKind.LEASE_RELEASE, _network(d["addr"])
        extra += [("actor", d["actor"]), ("action", "deleted")]
    elif d := _DEL_DEV.fullmatch(body):
        kind = EventKind.LEASE_RELEASE
        found = {"mac" if d["idtype"] == "hw-address" else "duid": d["id"]}
        extra += [("actor", d["actor"]), ("action", "deleted by device")]
    else:
        raise BadValue("not a lease entry the legal log hook writes")
    if "context" in found:
        json.loads(found["context"])  # a context that is not JSON means the entry was cut
    if "ifid" in found:
        found["ifid"] = hex_of(found["ifid"])
    skip = {"mac", "duid", "cid", "circuit-id", "remote-id", "relay", "cmddur"}
    extra += [(_NAMES.get(k, k), v) for k, v in found.items() if k not in skip]
    mac = found.get("mac", "")
    return Event(kind=kind, at=at, evidence=Evidence(source.path, number), address=address,
                 ends=ends, mac=mac_of(mac) if mac else "", duid=hex_of(found.get("duid", "")
                 ) if found.get("duid") else "", client_id=hex_of(found["cid"]) if "cid" in
                 found else "", circuit_id=found.get("circuit-id", ""),
                 remote_id=found.get("remote-id", ""), device=found.get("relay", ""),
                 flags=flags, extra=tuple(extra))


def _continuation(line: str) -> str | None:
    """The text of a `-` continuation line, or None if the line starts an entry."""
    if line.startswith("-"):
        return line[1:].removeprefix(" ")
    m = _STAMP.fullmatch(line)
    if m and m[4].startswith("-"):
        return m[4][1:].removeprefix(" ")
    return None


def parse(lines: Iterable[str], source: Source) -> Iterator[Event | Quarantined]:
    zone(source.zone)  # an unknown zone is a configuration error, raised before any line
    pending: tuple[int, str] | None = None  # one entry, held until its continuations end
    for number, line in numbered(lines):
        more = _continuation(line)
        if more is not None:
            if pending is None:
                yield Quarantined(source.path, number, "continuation without an entry", line)
            else:
                pending = (pending[0], f"{pending[1]}\n{more}")
            continue
        if pending is not None:
            yield _one(*pending, source)
        pending = (number, line) if line.strip() else None
    if pending is not None:
        yield _one(*pending, source)


def _one(number: int, entry: str, source: Source) -> Event | Quarantined:
    try:
        return _event(entry, source, number)
    except (BadValue, ValueError, OverflowError) as exc:
        return Quarantined(source.path, number, str(exc), entry)
