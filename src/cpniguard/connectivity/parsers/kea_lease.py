"""Kea memfile lease files (`kea-leases4.csv`, `kea-leases6.csv`), mapped by header name.

`parse` reads the header and picks v4 or v6 from it (a `duid` column means v6); `parse_v4` and
`parse_v6` insist on one family and quarantine a file of the other. Columns are looked up by
name, so older schemas (fewer columns, no `state`) load, and a header repeated mid-file (files
concatenated after LFC) re-maps the columns.

Times: `expire` is cltt + valid_lifetime in UTC epoch seconds, so starts = cltt = expire -
valid_lifetime and ends = expire. Each row becomes one event, in file order with its physical
line; the latest row for an address wins, which the interval builder resolves.

Kinds, by what the row says and nothing more:
- valid_lifetime 0: Kea's delete marker -> LEASE_RELEASE at cltt (= expire), no interval.
- state 0 (default) and 4 (registered) -> LEASE_STATE with starts/ends.
- state 1 (declined) and 2 (expired-reclaimed) -> LEASE_EXPIRE at `expire`: the holder's lease
  is over; a declined address was never usable by the client after the decline.
- state 3 (released) -> LEASE_RELEASE at cltt, the last transaction, which was the release.
The state number and name are always kept in `extra` so that choice can be revisited.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import replace

from cpniguard.connectivity.events import (
    Event,
    EventKind,
    Evidence,
    Network,
    Quarantined,
    Source,
    numbered,
)
from cpniguard.connectivity.parsers.dhcp_common import BadValue, epoch, hex_of, kea_unescape, mac_of

_V4_REQUIRED = ("address", "hwaddr", "client_id", "valid_lifetime", "expire", "subnet_id")
_V6_REQUIRED = ("address", "duid", "valid_lifetime", "expire", "subnet_id", "lease_type",
                "iaid", "prefix_len")
_STATES = {"0": "default", "1": "declined", "2": "expired-reclaimed", "3": "released",
           "4": "registered"}
_LEASE_TYPES = {"0": "NA", "1": "TA", "2": "PD"}
_INFINITE = 0xFFFFFFFF  # Kea's infinite valid lifetime
# Columns turned into Event fields; every other column goes to extra under its own name.
_CONSUMED = frozenset({"address", "hwaddr", "client_id", "duid", "valid_lifetime", "expire",
                       "prefix_len"})


def _int(row: dict[str, str], name: str) -> int:
    value = row.get(name, "")
    if not value.isdigit():
        raise BadValue(f"{name} is not a non-negative integer: {value!r}")
    return int(value)


def _address(row: dict[str, str], v6: bool) -> Network:
    if not v6:
        return ipaddress.IPv4Network(ipaddress.IPv4Address(row["address"]))
    addr = ipaddress.IPv6Address(row["address"])
    if row["lease_type"] == "2":
        # A delegated prefix: the row's address is the prefix, host bits must be zero.
        return ipaddress.IPv6Network(f"{addr}/{_int(row, 'prefix_len')}")
    if row["lease_type"] not in _LEASE_TYPES:
        raise BadValue(f"unknown lease_type {row['lease_type']!r}")
    return ipaddress.IPv6Network(addr)


def _event(row: dict[str, str], v6: bool, ev: Evidence) -> Event:
    address = _address(row, v6)
    valid, expire = _int(row, "valid_lifetime"), _int(row, "expire")
    if expire < valid:
        raise BadValue("expire is earlier than valid_lifetime after the epoch")
    state = row.get("state") or "0"  # schemas before 2.0 have no state column
    if state not in _STATES:
        raise BadValue(f"unknown state {state!r}")
    cltt, end = epoch(expire - valid), epoch(expire)
    extra = [(k, kea_unescape(v)) for k, v in row.items() if k not in _CONSUMED and v]
    extra += [("state-name", _STATES[state]), ("valid_lifetime", str(valid))]
    # Kea keeps hardware addresses of any length (hwtype is not always Ethernet); only a
    # six-octet one is a MAC, anything else is kept as hex rather than forced into one.
    hwaddr = hex_of(row["hwaddr"]) if row.get("hwaddr") else ""
    mac = mac_of(hwaddr) if len(hwaddr) == 12 else ""
    if hwaddr and not mac:
        extra.append(("hwaddr", hwaddr))
    base = Event(kind=EventKind.LEASE_STATE, at=cltt, evidence=ev, address=address, mac=mac,
                 client_id=hex_of(row["client_id"]) if row.get("client_id") else "",
                 duid=hex_of(row["duid"]) if row.get("duid") else "")
    if valid == 0:
        return replace(base, kind=EventKind.LEASE_RELEASE, ends=cltt,
                       extra=(*extra, ("deleted", "valid_lifetime 0")))
    ends = None if valid == _INFINITE else end
    if state in ("1", "2"):
        return replace(base, kind=EventKind.LEASE_EXPIRE, at=end, starts=cltt, ends=ends,
                       extra=tuple(extra))
    kind = EventKind.LEASE_RELEASE if state == "3" else EventKind.LEASE_STATE
    return replace(base, kind=kind, starts=cltt, ends=ends, extra=tuple(extra))


def _family(header: list[str]) -> str:
    if "duid" in header:
        missing = [c for c in _V6_REQUIRED if c not in header]
        return f"missing v6 columns {missing}" if missing else "v6"
    missing = [c for c in _V4_REQUIRED if c not in header]
    return f"missing v4 columns {missing}" if missing else "v4"


def _parse(lines: Iterable[str], source: Source, want: str) -> Iterator[Event | Quarantined]:
    header: list[str] = []
    family = ""
    for number, line in numbered(lines):
        if not line:
            continue  # an empty line carries nothing; Kea itself skips them
        fields = line.split(",")  # Kea never quotes: commas inside values are &#x2c
        # Kea writes `address` first, but a header is recognised by its names so files with
        # columns in another order (exports, other tools) still map correctly.
        if "address" in fields and "expire" in fields:
            header, family = fields, _family(fields)
            if family not in ("v4", "v6"):
                yield Quarantined(source.path, number, f"unusable header: {family}", line)
            elif want and family != want:
                yield Quarantined(source.path, number, f"a {family} header where {want} was "
                                  "expected", line)
                family = f"not {want}"
            continue
        if family not in ("v4", "v6"):
            reason = "row before any header" if not header else "row under an unusable header"
            yield Quarantined(source.path, number, reason, line)
            continue
        if len(fields) != len(header):
            yield Quarantined(source.path, number, f"{len(fields)} fields, header has "
                              f"{len(header)}", line)
            continue
        try:
            yield _event(dict(zip(header, fields, strict=True)), family == "v6",
                         Evidence(source.path, number))
        except (BadValue, ValueError) as exc:
            yield Quarantined(source.path, number, str(exc), line)


def parse(lines: Iterable[str], source: Source) -> Iterator[Event | Quarantined]:
    """Either family, chosen by the header."""
    return _parse(lines, source, "")


def parse_v4(lines: Iterable[str], source: Source) -> Iterator[Event | Quarantined]:
    return _parse(lines, source, "v4")


def parse_v6(lines: Iterable[str], source: Source) -> Iterator[Event | Quarantined]:
    return _parse(lines, source, "v6")
