"""CGNAT events → port-block intervals: which inside address used which public address and
port range, from when to when.

Deliberately simple; the rules:

- A block is identified by (device, public address, port range, protocol, inside address).
- NAT_ALLOCATE opens [at, ...) for its block. One for a block already open (Juniper's
  PORT_BLOCK_ACTIVE interim, a retransmission) only adds evidence and moves last_seen.
- NAT_RELEASE closes the open interval of its block at its time. A release with no open
  allocation (the allocation was in an earlier file) becomes [starts, at) when the record
  carries its start (Juniper, ASA do), flagged NO_START because no allocation was seen;
  otherwise it is reported as skipped.
- NAT_MAPPING (deterministic NAT) is one interval [starts or at, ends).
- Still open at the end of input: end None, NO_STOP, last_seen = the last record. An end is
  never invented, even when the same public block is later allocated to another inside
  address: that proves the earlier holding ended, not when, so both stay and the lookup sees
  the overlap and answers "ambiguous".

The store has no column for the inside address, so it goes into `session_id` as
`inside=<address>` (and `/<protocol>` when the block is per protocol). Blocks are held until
the end of input; memory grows with the number of open blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from cpniguard.connectivity.events import Event, EventKind, Evidence, Flag, Network
from cpniguard.connectivity.intervals import Skipped, skip

_Key = tuple[str, Network, int, int, str, Network]


@dataclass(frozen=True, slots=True)
class NatInterval:
    """Shaped like `intervals.Interval` so `store.from_interval` converts it."""

    address: Network
    start: datetime
    end: datetime | None
    evidence: tuple[Evidence, ...]
    port_first: int
    port_last: int
    inside: Network
    device: str = ""
    protocol: str = ""
    last_seen: datetime | None = None
    flags: frozenset[Flag] = frozenset()
    source: str = "cgnat"

    @property
    def session_id(self) -> str:
        return f"inside={self.inside}" + (f"/{self.protocol}" if self.protocol else "")


@dataclass
class _Open:
    start: datetime
    last_seen: datetime
    evidence: list[Evidence] = field(default_factory=list)
    flags: set[Flag] = field(default_factory=set)


def _key(event: Event) -> _Key | None:
    if (event.address is None or event.inside_address is None or event.port_first is None
            or event.port_last is None):
        return None
    return (event.device, event.address, event.port_first, event.port_last, event.protocol,
            event.inside_address)


def _interval(key: _Key, start: datetime, end: datetime | None, evidence: Iterable[Evidence],
              last_seen: datetime | None, flags: Iterable[Flag]) -> NatInterval:
    device, public, first, last, protocol, inside = key
    return NatInterval(address=public, start=start, end=end, evidence=tuple(evidence),
                       port_first=first, port_last=last, inside=inside, device=device,
                       protocol=protocol, last_seen=last_seen, flags=frozenset(flags))


def nat_intervals(events: Iterable[Event], *, skipped: Skipped | None = None
                  ) -> Iterator[NatInterval]:
    """Intervals from NAT events in file order: closed ones as they close, open ones last."""
    open_blocks: dict[_Key, _Open] = {}
    for event in events:
        key = _key(event)
        if event.kind not in (EventKind.NAT_ALLOCATE, EventKind.NAT_RELEASE,
                              EventKind.NAT_MAPPING):
            skip(skipped, event, f"{event.kind} is not a NAT event")
        elif key is None:
            skip(skipped, event, "NAT event without public address, inside address or ports")
        elif event.at is None:
            skip(skipped, event, "NAT event without a time")
        elif event.kind == EventKind.NAT_MAPPING:
            start = event.starts or event.at
            if event.ends is not None and event.ends < start:
                skip(skipped, event, "mapping ends before it starts")
                continue
            flags = set(event.flags) | ({Flag.NO_STOP} if event.ends is None else set())
            yield _interval(key, start, event.ends, [event.evidence],
                            None if event.ends is not None else start, flags)
        elif event.kind == EventKind.NAT_ALLOCATE:
            current = open_blocks.get(key)
            if current is None:
                open_blocks[key] = _Open(event.at, event.at, [event.evidence], set(event.flags))
            else:
                current.evidence.append(event.evidence)
                current.flags.update(event.flags)
                current.last_seen = max(current.last_seen, event.at)
        else:
            current = open_blocks.pop(key, None)
            if current is not None and event.at >= current.start:
                yield _interval(key, current.start, event.at,
                                [*current.evidence, event.evidence], event.at,
                                current.flags | set(event.flags))
                continue
            if current is not None:  # a release before its allocation: keep the allocation
                open_blocks[key] = current
            if event.starts is not None and event.starts <= event.at:
                yield _interval(key, event.starts, event.at, [event.evidence], event.at,
                                set(event.flags) | {Flag.NO_START})
            else:
                skip(skipped, event, "release without a matching allocation or recorded start")
    for key, current in open_blocks.items():
        yield _interval(key, current.start, None, current.evidence, current.last_seen,
                        current.flags | {Flag.NO_STOP})
