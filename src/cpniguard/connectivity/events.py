"""What every parser produces: assignment events with their evidence, or quarantined lines.

Parsers are pure functions over text; nothing here touches Django or a database. A parser never
drops input silently: every line it cannot use becomes a `Quarantined` with file, line and
reason, and every event carries the file, line and (once ingested) the file's SHA-256.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Who held an address, as logs name them; every layer (events, intervals, the store, answers)
# carries these same string fields, so code that copies them uses this one list.
IDENTITY_FIELDS = ("username", "mac", "client_id", "duid", "circuit_id", "remote_id")


class EventKind(StrEnum):
    SESSION_START = "session-start"      # RADIUS Acct-Status-Type Start
    SESSION_INTERIM = "session-interim"  # RADIUS Interim-Update
    SESSION_STOP = "session-stop"        # RADIUS Stop
    NAS_ON = "nas-on"                    # RADIUS Accounting-On: the NAS restarted
    NAS_OFF = "nas-off"                  # RADIUS Accounting-Off
    SESSION_ROW = "session-row"          # one radacct row: start, last update, maybe stop
    LEASE_ASSIGN = "lease-assign"        # DHCP grant (or a lease block's active state)
    LEASE_RENEW = "lease-renew"
    LEASE_RELEASE = "lease-release"
    LEASE_EXPIRE = "lease-expire"
    LEASE_STATE = "lease-state"          # a lease file block: holder and interval as recorded
    NAT_ALLOCATE = "nat-allocate"        # CGNAT: a public address and port block given out
    NAT_RELEASE = "nat-release"          # CGNAT: the block taken back
    NAT_MAPPING = "nat-mapping"          # deterministic NAT (RFC 7422): a mapping valid over time


class Flag(StrEnum):
    AMBIGUOUS_LOCAL_TIME = "ambiguous-local-time"  # the repeated fall-back hour: not guessed
    NONEXISTENT_LOCAL_TIME = "nonexistent-local-time"  # inside the spring-forward gap
    CLOCK_DISAGREES = "clock-disagrees"  # e.g. a detail header far from its Timestamp
    NO_STOP = "no-stop"                  # a session that was never closed by its NAS
    # Set by the interval builders (connectivity.intervals*), never by a parser:
    NO_START = "no-start"                # no Start seen: the interval begins where evidence does
    START_FROM_SESSION_TIME = "start-from-session-time"  # start = event time - Acct-Session-Time
    ADDRESS_CHANGED = "address-changed"  # split where the session's address changed
    ADDRESS_LATE = "address-late"        # the session's first records carried no address
    CLOSED_BY_NAS_RESTART = "closed-by-nas-restart"  # ended by Accounting-On/Off, not a Stop
    STALE = "stale"                      # open, yet silent for longer than the stale limit
    OVERLAP = "overlap"                  # overlaps another holder of the same address
    # Set at attribution time, never stored: an open interval whose session a later file
    # shows going on; it is cut where the later file's interval begins (connectivity.continuity).
    CONTINUED = "continued-in-later-file"


@dataclass(frozen=True, slots=True)
class Evidence:
    file: str
    line: int          # 1-based line where the record starts
    sha256: str = ""   # filled in by the ingest, which hashes the whole file


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    at: datetime | None            # aware, UTC: when the event happened (None if unknowable)
    evidence: Evidence
    address: Network | None = None  # an address is a /32 or /128; a delegated prefix its length
    # Every subscriber address the record carries, by the attribute that carried it, when
    # there can be several (a dual-stack RADIUS session: IPv4, IPv6 and delegated prefix);
    # `address` is the first of them. Empty when the format carries one address only.
    addresses: tuple[tuple[str, Network], ...] = ()
    ends: datetime | None = None   # for lease-state/session-row: the recorded end, aware UTC
    starts: datetime | None = None  # for lease-state/session-row: the recorded start
    session_id: str = ""           # Acct-Unique-Session-Id or Acct-Session-Id
    username: str = ""
    mac: str = ""                  # lower-case colon form
    client_id: str = ""            # hex
    duid: str = ""                 # hex
    circuit_id: str = ""
    remote_id: str = ""
    device: str = ""               # NAS IP / identifier, DHCP server, relay
    terminate_cause: str = ""
    octets_in: int | None = None
    octets_out: int | None = None
    flags: frozenset[Flag] = field(default_factory=frozenset)
    extra: tuple[tuple[str, str], ...] = ()  # other attributes worth keeping as evidence
    # CGNAT: `address` is the public address; the private (inside) address it translates,
    # and the public port range, inclusive. None outside NAT events.
    inside_address: Network | None = None
    port_first: int | None = None
    port_last: int | None = None
    protocol: str = ""                   # tcp, udp, icmp, or "" for all


@dataclass(frozen=True, slots=True)
class Quarantined:
    file: str
    line: int
    reason: str
    text: str  # the offending line(s), as read


Parsed = Event | Quarantined


@dataclass(frozen=True, slots=True)
class Source:
    """A file being parsed and the time zone its local timestamps are written in."""

    path: str
    zone: str = "UTC"  # IANA name, e.g. "America/Chicago"


def numbered(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(lines, start=1):
        yield number, line.rstrip("\r\n")


def open_text(path: str | Path) -> Generator[str, None, None]:
    """Lines of a log file, gzip read transparently (by magic bytes, not by name)."""
    import gzip

    with Path(path).open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rt", encoding="utf-8", errors="surrogateescape", newline="") as handle:
        yield from handle
