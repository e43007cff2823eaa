"""Legal holds as plain data: what a hold names, and which stored rows it keeps.

A hold names one identifier, a time range and an expiry. It keeps a stored row when the hold
is in force (not released, not yet expired), the row's whole interval as built
([original_start, original_end), before the day split) overlaps the hold's range, and the row
carries the identifier:

- an address or prefix matches a row whose network contains it or lies inside it (two CIDR
  blocks overlap only that way); for a CGNAT port block the inside address counts too, since
  the block is what leads from a public address to the subscriber's line;
- an identity (username, MAC, client-id, DUID, circuit-id, remote-id) matches the row's field
  of that kind, compared without regard to case (MACs in lower-case colon form), so a hold
  never misses a row over spelling.

A row of no length (a single logged instant) counts as lasting one microsecond.

Pure Python: the retention run, the dry run and the tests all ask the same `HoldMatcher`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cpniguard.connectivity.events import IDENTITY_FIELDS
from cpniguard.connectivity.store.schema import StoredInterval, address_key, to_us

_INSIDE = "inside="
_MAC_SEPARATED = re.compile(r"[0-9a-f]{2}([-:])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}")
_MAC_DOTTED = re.compile(r"[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}")


class HoldKind(StrEnum):
    ADDRESS = "address"
    USERNAME = "username"
    MAC = "mac"
    CLIENT_ID = "client_id"
    DUID = "duid"
    CIRCUIT_ID = "circuit_id"
    REMOTE_ID = "remote_id"


assert {k.value for k in HoldKind} - {"address"} == set(IDENTITY_FIELDS)  # one list of fields


class InvalidHold(ValueError):
    pass


def normalize_mac(text: str) -> str:
    """`aa:bb:cc:dd:ee:ff` from the separated and dotted spellings; anything else is refused
    (twelve bare hex digits could be a phone number in a Calling-Station-Id)."""
    low = text.strip().lower()
    if _MAC_SEPARATED.fullmatch(low):
        return low.replace("-", ":")
    if _MAC_DOTTED.fullmatch(low):
        digits = low.replace(".", "")
        return ":".join(digits[i:i + 2] for i in range(0, 12, 2))
    raise InvalidHold(f"not a MAC address: {text!r} (write e.g. 02:00:5e:10:00:42)")


def _address(text: str) -> str:
    try:
        network = ipaddress.ip_network(text.strip(), strict=True)
        address_key(network)  # refuses IPv6 inside ::ffff:0:0/96, which IPv4 keys use
    except ValueError as error:
        raise InvalidHold(f"not an address or prefix: {text!r} ({error})") from None
    return str(network)


def normalize_identifier(text: str, kind: str | None) -> tuple[HoldKind, str]:
    """(kind, canonical identifier). Without a kind, the identifier must be an address."""
    if not text or not text.strip():
        raise InvalidHold("the identifier is empty")
    if kind is None:
        try:
            return HoldKind.ADDRESS, _address(text)
        except InvalidHold:
            raise InvalidHold(f"{text!r} is not an address or prefix; say which identity it "
                              f"is with --kind ({', '.join(HoldKind)})") from None
    try:
        which = HoldKind(kind)
    except ValueError:
        raise InvalidHold(f"unknown kind {kind!r}; one of {', '.join(HoldKind)}") from None
    if which is HoldKind.ADDRESS:
        return which, _address(text)
    if which is HoldKind.MAC:
        return which, normalize_mac(text)
    return which, text.strip()


def check_range(starts: datetime, ends: datetime, expires: datetime) -> None:
    for label, moment in (("start", starts), ("end", ends), ("expiry", expires)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise InvalidHold(f"the {label} {moment.isoformat()} has no offset or zone")
    if ends <= starts:
        raise InvalidHold(f"the range ends ({ends.isoformat()}) before it starts "
                          f"({starts.isoformat()})")


@dataclass(frozen=True, slots=True)
class HoldRule:
    """One hold in force, in the store's own units (microseconds, 128-bit keys)."""

    id: int
    kind: HoldKind
    identifier: str
    start: int
    end: int

    @classmethod
    def of(cls, hold_id: int, kind: str, identifier: str, starts: datetime,
           ends: datetime) -> HoldRule:
        return cls(hold_id, HoldKind(kind), identifier, to_us(starts), to_us(ends))


def _value(key: tuple[int, int, int]) -> tuple[int, int]:
    hi, lo, plen = key
    return (hi << 64) | lo, plen


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    # Two CIDR blocks overlap exactly when they agree on the shorter prefix.
    shift = 128 - min(a[1], b[1])
    return a[0] >> shift == b[0] >> shift


def _inside(row: StoredInterval) -> tuple[int, int] | None:
    if not row.session_id.startswith(_INSIDE):
        return None
    parts = row.session_id.removeprefix(_INSIDE).split("/")
    text = "/".join(parts[:2]) if len(parts) > 1 and parts[1].isdigit() else parts[0]
    try:
        return _value(address_key(ipaddress.ip_network(text, strict=False)))
    except ValueError:
        return None


def _overlaps_time(rule: HoldRule, row: StoredInterval) -> bool:
    end = max(row.original_end, row.original_start + 1)
    return rule.start < end and row.original_start < rule.end


class HoldMatcher:
    """Which holds keep a row. Built once per run from the holds in force."""

    def __init__(self, rules: Iterable[HoldRule]) -> None:
        self.rules = list(rules)
        self._networks = [(rule, _value(address_key(rule.identifier)))
                          for rule in self.rules if rule.kind is HoldKind.ADDRESS]
        self._identities = [(rule, rule.identifier.casefold()) for rule in self.rules
                            if rule.kind is not HoldKind.ADDRESS]

    def __bool__(self) -> bool:
        return bool(self.rules)

    def holding(self, row: StoredInterval) -> list[int]:
        """Ids of the holds that keep `row`, in id order; empty if none does."""
        found: list[int] = []
        if self._networks:
            network = _value((row.hi, row.lo, row.plen))
            inside = _inside(row)
            for rule, value in self._networks:
                if _overlaps_time(rule, row) and (
                        _overlap(network, value) or (inside and _overlap(inside, value))):
                    found.append(rule.id)
        for rule, wanted in self._identities:
            if _overlaps_time(rule, row) and getattr(row, rule.kind.value).casefold() == wanted:
                found.append(rule.id)
        return sorted(found)

    def keeps(self, row: StoredInterval) -> bool:
        return bool(self.holding(row))
