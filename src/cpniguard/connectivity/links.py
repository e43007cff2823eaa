"""From the identities logs name to the subscribers who held them, at one instant.

A link counts only if its validity [valid_from, valid_to) contains the instant asked about.
Two links naming different subscribers for the same identity at the same instant are a
records error: the answer reports both and never picks one.

Identity values are normalised the way the parsers write them, so a MAC typed as
`AA-BB-CC-DD-EE-FF` finds rows stored as `aa:bb:cc:dd:ee:ff`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from cpniguard.connectivity.clock import zone
from cpniguard.connectivity.models import IdentityLink
from cpniguard.connectivity.parsers.dhcp_common import BadValue, hex_of
from cpniguard.connectivity.parsers.freeradius_common import normalize_mac

Kind = IdentityLink.Kind
# Holder field -> link kind. The device (NAS, DHCP server) identifies nobody and is absent.
HOLDER_KINDS: dict[str, str] = {
    "username": Kind.USERNAME, "mac": Kind.MAC, "client_id": Kind.CLIENT_ID,
    "duid": Kind.DUID, "circuit_id": Kind.CIRCUIT_ID, "remote_id": Kind.REMOTE_ID,
}


class BadLink(ValueError):
    pass


def normalize(kind: str, value: str) -> str:
    """The stored spelling of an identity of `kind`; BadLink if it is not one."""
    text = value.strip()
    if not text:
        raise BadLink(f"empty {kind}")
    if kind == Kind.MAC:
        mac = normalize_mac(text)
        if mac is None:
            raise BadLink(f"not a MAC address: {value!r} (write aa:bb:cc:dd:ee:ff)")
        return mac
    if kind in (Kind.CLIENT_ID, Kind.DUID):
        try:
            return hex_of(text)
        except BadValue as error:
            raise BadLink(f"{kind}: {error}") from None
    if kind == Kind.STATIC_IP:
        try:
            return str(ipaddress.ip_network(text, strict=True))
        except ValueError as error:
            raise BadLink(f"static_ip: {error}") from None
    if kind in (Kind.USERNAME, Kind.CIRCUIT_ID, Kind.REMOTE_ID):
        return text
    raise BadLink(f"unknown identity kind {kind!r}; one of {', '.join(Kind.values)}")


@dataclass(frozen=True, slots=True)
class LinkHit:
    subscriber_id: int
    kind: str
    value: str
    valid_from: datetime
    valid_to: datetime | None
    origin: str
    link_id: int


def _hit(row: IdentityLink) -> LinkHit:
    return LinkHit(row.subscriber_id, row.kind, row.value, row.valid_from, row.valid_to,
                   row.origin, row.pk)


def _valid(hit: LinkHit, at: datetime) -> bool:
    return hit.valid_from <= at and (hit.valid_to is None or at < hit.valid_to)


class LinkBook:
    """Every link that could answer for a set of identities, loaded in a few queries.

    A batch of 100,000 answers must not cost 100,000 queries: the identities are collected
    first, fetched per kind in chunks, and the validity test is done here per instant.
    Static assignments are few (business customers), so all of them are loaded.
    """

    _CHUNK = 500

    def __init__(self, identities: Iterable[tuple[str, str]]) -> None:
        wanted: dict[str, set[str]] = {}
        for field, value in identities:
            key = self._key(field, value)
            if key is not None:
                wanted.setdefault(key[0], set()).add(key[1])
        self._links: dict[tuple[str, str], list[LinkHit]] = {}
        for kind, values in wanted.items():
            ordered = sorted(values)
            for first in range(0, len(ordered), self._CHUNK):
                chunk = ordered[first:first + self._CHUNK]
                for row in IdentityLink.objects.filter(kind=kind, value__in=chunk):
                    self._links.setdefault((kind, row.value), []).append(_hit(row))
        self._static = [(ipaddress.ip_network(row.value), _hit(row))
                        for row in IdentityLink.objects.filter(kind=Kind.STATIC_IP)]

    @staticmethod
    def _key(field: str, value: str) -> tuple[str, str] | None:
        kind = HOLDER_KINDS.get(field)
        if not kind or not value:
            return None
        try:
            return kind, normalize(kind, value)
        except BadLink:
            return None  # a value the logs hold but no link could ever have

    def identity(self, field: str, value: str, at: datetime) -> list[LinkHit]:
        key = self._key(field, value)
        hits = self._links.get(key, []) if key else []
        return [hit for hit in hits if _valid(hit, at)]

    def static(self, address: str, at: datetime) -> list[LinkHit]:
        parsed = ipaddress.ip_address(address)
        return [hit for network, hit in self._static
                if parsed.version == network.version and parsed in network and _valid(hit, at)]


def local_midnight(day: date, zone_name: str) -> datetime:
    """The first instant of a calendar day in the ISP's zone (service dates carry no zone)."""
    return datetime.combine(day, time(0), zone(zone_name))


def day_after(day: date, zone_name: str) -> datetime:
    return local_midnight(day + timedelta(days=1), zone_name)
