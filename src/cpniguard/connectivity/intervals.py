"""Assignment intervals: who held an address from when to when, and the records proving it.

The builders live next to this module: `intervals_radius.radius_intervals` (RADIUS accounting
and radacct rows) and `intervals_dhcp.dhcp_intervals` (lease logs and lease files). They are
pure functions over parsed `Event`s; nothing here touches Django.

Rules every builder follows, because a wrong answer can send the police to the wrong door:

- Intervals are half-open, [start, end): the instant `end` belongs to whatever comes next.
- `end` is only set when a record says when the holding ended (a Stop, an Accounting-On/Off,
  a release, an expiry, a lease's recorded end, an address change seen in an Interim). When
  no record says so, `end` is None, Flag.NO_STOP is set, and `last_seen` is the last instant a
  record proved the holding alive. Past `last_seen` the holding is unknown, not ongoing.
- Nothing is trimmed or guessed to make the data look tidy: inconsistencies are kept and
  flagged (OVERLAP, NO_START, ADDRESS_CHANGED, ...) so the attribution can answer "ambiguous".
- Every contributing record is in `evidence`, in the order it was used.
- An event a builder cannot use is reported, never dropped: into the `skipped` list the caller
  passes, or, without one, as an `UnusableEvent` exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cpniguard.connectivity.events import Event, Evidence, Flag, Network

SourceKind = Literal["radius", "dhcp"]


@dataclass(frozen=True, slots=True)
class Interval:
    address: Network              # a /32 or /128, or a delegated prefix
    start: datetime               # aware UTC, inclusive
    end: datetime | None          # aware UTC, exclusive; None: no record says when it ended
    source: SourceKind
    evidence: tuple[Evidence, ...]
    last_seen: datetime | None = None  # the latest record time proving the holding alive
    username: str = ""
    mac: str = ""
    client_id: str = ""
    duid: str = ""
    circuit_id: str = ""
    remote_id: str = ""
    device: str = ""              # NAS or DHCP server / relay
    session_id: str = ""
    flags: frozenset[Flag] = frozenset()
    # CGNAT port blocks; always None for RADIUS and DHCP intervals.
    port_first: int | None = None
    port_last: int | None = None
    # RADIUS only (see intervals_radius): the Stop's Acct-Terminate-Cause, and the octets
    # counted while this interval was held, Gigawords applied; None where no record says.
    terminate_cause: str | None = None
    octets_in: int | None = None
    octets_out: int | None = None

    @property
    def proven_until(self) -> datetime | None:
        """The end if recorded, else the last instant a record showed the holding alive."""
        return self.end if self.end is not None else self.last_seen


class UnusableEvent(ValueError):
    """An event a builder cannot place; raised only when the caller gave no `skipped` list."""

    def __init__(self, event: Event, reason: str) -> None:
        super().__init__(f"{event.evidence.file}:{event.evidence.line}: {reason}")
        self.event = event
        self.reason = reason


Skipped = list[tuple[Event, str]]


def skip(skipped: Skipped | None, event: Event, reason: str) -> None:
    if skipped is None:
        raise UnusableEvent(event, reason)
    skipped.append((event, reason))


__all__ = ["Interval", "Skipped", "SourceKind", "UnusableEvent", "skip"]
