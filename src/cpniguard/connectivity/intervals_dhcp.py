"""DHCP lease events and lease-file blocks → assignment intervals, per address.

Input order is the authority: events are applied in the order given, which must be file order,
files oldest first. Lease files (dhcpd.leases, Kea memfile) are append-only and the later
record for an address wins, even when its times are older; a legal log is written as things
happen. Nothing is re-sorted by time here.

Per address the latest interval is "current":
- An active record (LEASE_ASSIGN, LEASE_RENEW, or LEASE_STATE in an active binding state) for
  the current holder, starting no later than the current end, updates it: the end becomes the
  record's end (later wins, even if shorter), the start the earlier of the two. A record for the
  same holder starting after the current end is a new lease: a new interval (the address was
  not held in the gap). A record for a different holder opens a new interval.
- A closing record (LEASE_RELEASE, LEASE_EXPIRE, or a block in a free/released/expired/
  abandoned/reset/backup state) ends the current interval at its recorded time (`ends`, else
  `at`) when it names the current holder, or no holder, and falls inside the interval.
  Otherwise, for a named holder with a recorded start, it is itself a finished lease
  [starts, ends) (dhcpd keeps the last holder's identity and times in a freed block), except
  for abandoned/backup/reset blocks and Kea rows the client declined, whose identity never held
  the lease over those times. A logged release naming a client with no assignment seen is an
  empty interval [at, at), NO_START: the holder is proven at that instant only. Anything else
  is reported as skipped, never silently ignored.
- An infinite lease (or a Kea command without a duration) has end None and NO_STOP.

Holders: two records name the same client when they share at least one identifier (duid,
client-id, MAC) and disagree on none. Records with disjoint identifiers count as different
clients: a boundary is invented then, never a merge.

Overlaps: once every record is applied, intervals of one address are compared; any two of
different holders that overlap (an end of None overlaps everything after its start) are both
flagged OVERLAP and kept as recorded. The server reassigning an address proves the earlier
lease was cut short, but not when, so the attribution must answer "ambiguous" there.
Intervals are held until the end of input (the overlap check needs them); memory grows with
the number of intervals. Different prefixes that contain one another are not compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime

from cpniguard.connectivity.events import Event, EventKind, Flag, Network
from cpniguard.connectivity.intervals import Interval, Skipped, skip

ACTIVE_STATES = frozenset({"active", "bootp"})
CLOSED_STATES = frozenset({"free", "released", "expired", "abandoned", "reset", "backup"})
# States in which a block's identity is not a client that held the lease over its times.
_NO_HOLDER_STATES = frozenset({"abandoned", "backup", "reset"})
_KINDS = (EventKind.LEASE_ASSIGN, EventKind.LEASE_RENEW, EventKind.LEASE_RELEASE,
          EventKind.LEASE_EXPIRE, EventKind.LEASE_STATE)


def binding_state(event: Event) -> str | None:
    """dhcpd's `binding state` as the parser kept it in `extra`; None when not recorded."""
    for name, value in event.extra:
        if name == "binding state":
            return value
    return None


def _holderless(event: Event, state: str | None) -> bool:
    """Records whose identity never held the lease over their times: an abandoned or backup
    block, or a Kea row the client declined (it found the address in use)."""
    return state in _NO_HOLDER_STATES or ("state-name", "declined") in event.extra


def same_client(a: Interval | Event, b: Interval | Event) -> bool:
    shared = False
    for name in ("duid", "client_id", "mac"):
        x, y = getattr(a, name), getattr(b, name)
        if x and y:
            if x != y:
                return False
            shared = True
    return shared


def _new(event: Event, address: Network, start: datetime, end: datetime | None,
         flags: frozenset[Flag] = frozenset()) -> Interval:
    flags = flags | event.flags
    if end is None:
        flags |= {Flag.NO_STOP}
    seen = [t for t in (event.at, event.starts) if t is not None]
    return Interval(
        address=address, start=start, end=end, source="dhcp", evidence=(event.evidence,),
        last_seen=max(seen) if seen else start, mac=event.mac, client_id=event.client_id,
        duid=event.duid, circuit_id=event.circuit_id, remote_id=event.remote_id,
        device=event.device, flags=flags)


def _absorb(current: Interval, event: Event, *, start: datetime, end: datetime | None,
            flags: frozenset[Flag] = frozenset()) -> Interval:
    flags = (current.flags - {Flag.NO_STOP}) | event.flags | flags
    if end is None:
        flags |= {Flag.NO_STOP}
    seen = [t for t in (current.last_seen, event.at, event.starts) if t is not None]
    return replace(
        current, start=start, end=end, evidence=(*current.evidence, event.evidence),
        last_seen=max(seen), flags=flags,
        mac=current.mac or event.mac, client_id=current.client_id or event.client_id,
        duid=current.duid or event.duid, circuit_id=current.circuit_id or event.circuit_id,
        remote_id=current.remote_id or event.remote_id, device=current.device or event.device)


class _Address:
    """Intervals of one address, the last of them current."""

    def __init__(self) -> None:
        self.intervals: list[Interval] = []

    def active(self, event: Event, address: Network, skipped: Skipped | None) -> None:
        start = event.starts or event.at
        end = event.ends
        if start is None:
            skip(skipped, event, "lease record without a start time")
            return
        if end is not None and end < start:
            skip(skipped, event, "lease record ends before it starts")
            return
        cur = self.intervals[-1] if self.intervals else None
        if (cur is not None and same_client(cur, event)
                and (cur.end is None or start <= cur.end) and start >= cur.start):
            self.intervals[-1] = _absorb(cur, event, start=cur.start, end=end)
        elif (cur is not None and same_client(cur, event) and start < cur.start
              and (end is None or end >= cur.start)):
            # An older record of the same lease, read later: it widens the start only.
            self.intervals[-1] = _absorb(cur, event, start=start, end=end)
        else:
            self.intervals.append(_new(event, address, start, end))

    def closing(self, event: Event, address: Network, state: str | None,
                skipped: Skipped | None) -> None:
        at = event.ends or event.at
        if at is None:
            skip(skipped, event, "lease end record without a time")
            return
        named = bool(event.mac or event.client_id or event.duid)
        cur = self.intervals[-1] if self.intervals else None
        if (cur is not None and (not named or same_client(cur, event))
                and cur.start <= at and (cur.end is None or at <= cur.end)):
            self.intervals[-1] = _absorb(cur, event, start=cur.start, end=at)
            return
        if named and not _holderless(event, state) and event.starts is not None:
            if at < event.starts:
                skip(skipped, event, "lease record ends before it starts")
                return
            if (cur is not None and same_client(cur, event) and cur.end == at
                    and cur.start <= event.starts):
                # The same finished lease written again (dhcpd rewrites its file).
                self.intervals[-1] = _absorb(cur, event, start=cur.start, end=at)
                return
            self.intervals.append(_new(event, address, event.starts, at))
            return
        if named and event.kind == EventKind.LEASE_RELEASE and state is None:
            # A logged release with no assignment seen: the holder is proven at that instant
            # only, so the interval is empty and marked as such.
            self.intervals.append(_new(event, address, at, at, frozenset({Flag.NO_START})))
            return
        skip(skipped, event, "lease end that matches no interval of this address")


def _flag_overlaps(intervals: list[Interval]) -> list[Interval]:
    ordered = sorted(range(len(intervals)), key=lambda i: intervals[i].start)
    flagged: set[int] = set()
    live: list[int] = []  # indices whose end lies after the current start
    for i in ordered:
        start = intervals[i].start
        live = [j for j in live if _reaches_past(intervals[j], start)]
        for j in live:
            if not same_client(intervals[i], intervals[j]) and not _empty(intervals[i]):
                flagged.update((i, j))
        if not _empty(intervals[i]):
            live.append(i)
    return [replace(iv, flags=iv.flags | {Flag.OVERLAP}) if i in flagged else iv
            for i, iv in enumerate(intervals)]


def _reaches_past(interval: Interval, instant: datetime) -> bool:
    return interval.end is None or interval.end > instant


def _empty(interval: Interval) -> bool:
    return interval.end is not None and interval.end <= interval.start


def dhcp_intervals(events: Iterable[Event], *,
                   skipped: Skipped | None = None) -> Iterator[Interval]:
    """Intervals from DHCP events in file order; yielded per address, by start."""
    addresses: dict[Network, _Address] = {}
    for event in events:
        if event.kind not in _KINDS:
            skip(skipped, event, f"{event.kind} is not a DHCP lease event")
            continue
        if event.address is None:
            skip(skipped, event, "lease event without an address")
            continue
        state = binding_state(event)
        slot = addresses.setdefault(event.address, _Address())
        if event.kind in (EventKind.LEASE_RELEASE, EventKind.LEASE_EXPIRE) or (
                event.kind == EventKind.LEASE_STATE and state in CLOSED_STATES):
            slot.closing(event, event.address, state, skipped)
        elif event.kind != EventKind.LEASE_STATE or state is None or state in ACTIVE_STATES:
            slot.active(event, event.address, skipped)
        else:
            skip(skipped, event, f"unknown binding state {state!r}")
    for address in sorted(addresses, key=lambda a: (a.version, a)):
        yield from sorted(_flag_overlaps(addresses[address].intervals), key=lambda i: i.start)


__all__ = ["ACTIVE_STATES", "CLOSED_STATES", "binding_state", "dhcp_intervals", "same_client"]
