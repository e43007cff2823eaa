"""Deterministic NAT (RFC 7422) mapping configurations, expanded into NAT_MAPPING events.

A deterministic NAT logs nothing per subscriber: the mapping IS the configuration, so the
evidence is the configuration together with the interval it was in force. This module reads a
small TOML file kept by the operator, one `[[mapping]]` table per rule and period:

    [[mapping]]
    device = "cgn1.example.net"
    inside = "100.64.0.0/22"              # a prefix, or a range "100.64.0.1-100.64.3.254"
    outside = "203.0.113.8/29"            # a prefix or a range; IPv4
    first_port = 1024                     # the router's first NAT port
    last_port = 65535                     # optional, default 65535
    ports_per_subscriber = 2016           # the router's block size
    protocol = ""                         # optional: "tcp", "udp", "icmp", "" = all
    valid_from = 2024-01-01T00:00:00-06:00    # TOML offset date-time, required
    valid_until = 2024-07-01T00:00:00-05:00   # optional; absent = still in force

Times must carry an offset (a local date-time is refused: it would have to be guessed), and
every address in `inside` counts, so a router that skips the network and broadcast addresses
must be described with a range. The arithmetic is the sequential one of RFC 7422 section 2 as
Juniper implements it ("Understanding the deterministic NAPT algorithm", juniper.net/
documentation/us/en/software/junos/interfaces-next-gen-services/topics/concept/
usf-deterministic-napt.html): with B = ports_per_subscriber and
K = floor((last_port - first_port + 1) / B) blocks per outside address, inside address number
i (from 0) maps to outside address number i // K and ports first_port + (i % K) * B onwards,
B of them. A config where the inside range needs more blocks than the outside range holds is
refused rather than wrapped around.

`parse` yields one NAT_MAPPING per inside address (starts = at = valid_from, ends =
valid_until), lazily: a /16 inside is never held as a list. A table that does not validate is
quarantined at its `[[mapping]]` line; a file that is not TOML is quarantined at the line the
TOML reader names.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_TABLE = re.compile(r"\s*\[\[\s*mapping\s*\]\]\s*(?:#.*)?")
_KEYS = {"device", "inside", "outside", "first_port", "last_port", "ports_per_subscriber",
         "protocol", "valid_from", "valid_until"}


@dataclass(frozen=True, slots=True)
class DetNat:
    """One deterministic NAT rule over one validity interval, with the RFC 7422 arithmetic."""

    inside_first: Address
    inside_count: int
    outside_first: ipaddress.IPv4Address
    outside_count: int
    first_port: int
    last_port: int
    block: int
    valid_from: datetime
    valid_until: datetime | None = None
    device: str = ""
    protocol: str = ""

    @property
    def blocks_per_address(self) -> int:
        return (self.last_port - self.first_port + 1) // self.block

    def outside_for(self, inside: Address) -> tuple[ipaddress.IPv4Address, int, int] | None:
        """(public address, first port, last port) for an inside address; None if not covered."""
        index = int(inside) - int(self.inside_first)
        if inside.version != self.inside_first.version or not 0 <= index < self.inside_count:
            return None
        per = self.blocks_per_address
        first = self.first_port + (index % per) * self.block
        return self.outside_first + index // per, first, first + self.block - 1

    def inside_for(self, outside: ipaddress.IPv4Address, port: int) -> Address | None:
        """The inside address that owned `outside`:`port`; None if no subscriber did."""
        offset = int(outside) - int(self.outside_first)
        if outside.version != 4 or not 0 <= offset < self.outside_count:
            return None
        if not self.first_port <= port <= self.last_port:
            return None
        slot = (port - self.first_port) // self.block
        if slot >= self.blocks_per_address:
            return None  # the ports left over after the last whole block belong to nobody
        index = offset * self.blocks_per_address + slot
        return self.inside_first + index if index < self.inside_count else None


def _span(text: object, what: str) -> tuple[Address, int]:
    if not isinstance(text, str):
        raise BadValue(f"{what} must be a string")
    try:
        if "-" in text:
            lo, hi = (ipaddress.ip_address(p.strip()) for p in text.split("-", 1))
            if lo.version != hi.version or int(hi) < int(lo):
                raise BadValue(f"{what} range {text!r} is backwards or mixes versions")
            return lo, int(hi) - int(lo) + 1
        net = ipaddress.ip_network(text)  # strict: host bits set means a typo
    except ValueError as exc:
        raise BadValue(f"{what}: {exc}") from None
    return net.network_address, net.num_addresses


def _port(table: dict[str, Any], key: str, default: int | None = None) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
        raise BadValue(f"{key} must be a port number")
    return value


def _time(table: dict[str, Any], key: str) -> datetime:
    value = table[key]
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise BadValue(f"{key} must be a date-time with an offset")
    return value.astimezone(UTC)


def config(table: dict[str, Any]) -> DetNat:
    """A validated `DetNat` from one `[[mapping]]` table; `BadValue` names what is wrong."""
    unknown = set(table) - _KEYS
    if unknown:
        raise BadValue(f"unknown keys: {', '.join(sorted(unknown))}")
    for key in ("inside", "outside", "first_port", "ports_per_subscriber", "valid_from"):
        if key not in table:
            raise BadValue(f"missing {key}")
    inside, n_in = _span(table["inside"], "inside")
    outside, n_out = _span(table["outside"], "outside")
    if not isinstance(outside, ipaddress.IPv4Address):
        raise BadValue("outside must be IPv4")
    first, last = _port(table, "first_port"), _port(table, "last_port", 65535)
    block = _port(table, "ports_per_subscriber")
    if block < 1 or first > last or block > last - first + 1:
        raise BadValue("ports_per_subscriber does not fit between first_port and last_port")
    valid_from = _time(table, "valid_from")
    valid_until = _time(table, "valid_until") if "valid_until" in table else None
    if valid_until is not None and valid_until <= valid_from:
        raise BadValue("valid_until is not after valid_from")
    device, protocol = table.get("device", ""), table.get("protocol", "")
    if not isinstance(device, str) or protocol not in {"", "tcp", "udp", "icmp"}:
        raise BadValue("device must be a string, protocol one of tcp, udp, icmp or \"\"")
    result = DetNat(inside, n_in, outside, n_out, first, last, block, valid_from, valid_until,
                    device, protocol)
    if n_in > n_out * result.blocks_per_address:
        raise BadValue(f"{n_in} inside addresses need more blocks than the "
                       f"{n_out * result.blocks_per_address} the outside range holds")
    return result


def mappings(rule: DetNat, evidence: Evidence) -> Iterator[Event]:
    """One NAT_MAPPING per inside address, generated on demand."""
    for index in range(rule.inside_count):
        inside = rule.inside_first + index
        found = rule.outside_for(inside)
        assert found is not None  # every index below inside_count is covered, by construction
        public, first, last = found
        net: Network = ipaddress.ip_network(public)
        yield Event(kind=EventKind.NAT_MAPPING, at=rule.valid_from, evidence=evidence,
                    address=net, inside_address=ipaddress.ip_network(inside),
                    port_first=first, port_last=last, starts=rule.valid_from,
                    ends=rule.valid_until, device=rule.device, protocol=rule.protocol,
                    extra=(("detnat-index", str(index)),))


def parse(lines: Iterable[str], source: Source) -> Iterator[Event | Quarantined]:
    """NAT_MAPPING events for every valid `[[mapping]]` of a config file, lazily expanded."""
    text: list[str] = []
    starts: list[int] = []  # the line of each [[mapping]] header, in file order
    for number, line in numbered(lines):  # a config is small; only the expansion is large
        text.append(line)
        if _TABLE.fullmatch(line):
            starts.append(number)
    try:
        document = tomllib.loads("\n".join(text))
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"line (\d+)", str(exc))
        number = int(where[1]) if where else 1
        yield Quarantined(source.path, number, f"not TOML: {exc}", text[number - 1]
                          if 0 < number <= len(text) else "")
        return
    tables = document.get("mapping", [])
    if set(document) - {"mapping"} or not isinstance(tables, list) or len(tables) != len(starts):
        yield Quarantined(source.path, 1, "only [[mapping]] tables are allowed, each on a "
                          "line of its own", text[0] if text else "")
        return
    for number, table in zip(starts, tables, strict=True):
        try:
            rule = config(table)
        except (BadValue, ValueError, OverflowError) as exc:
            end = next((s for s in starts if s > number), len(text) + 1)
            yield Quarantined(source.path, number, str(exc), "\n".join(text[number - 1:end - 1]))
            continue
        yield from mappings(rule, Evidence(source.path, number))
