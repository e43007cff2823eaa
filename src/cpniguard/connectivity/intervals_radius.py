"""RADIUS accounting (detail files) and radacct rows → assignment intervals.

Pairing: records belong to one session when they share (device, session id). The device is
part of the key because Acct-Session-Id is only unique per NAS; devices are compared as the
parsers wrote them, so a NAS that names itself by NAS-IP-Address in one record and by
NAS-Identifier in another (an Accounting-On often does) is two devices here.

Within a session, records are replayed in event-time order, not file order: a NAS buffers
accounting (up to a day on some platforms) and retransmits, so a Stop can be written before the
Interim it follows. The input is read once, in file order, and only sessions are buffered: a
session is released once it is closed (Stop or Accounting-On/Off) and the newest event time seen
is `reorder_window` past its close. A record arriving later than that starts a new interval,
flagged NO_START. Open sessions are held to the end of the input, so memory grows with the
number of open sessions, not with the input.

A session's life is replayed as "incarnations": a Start (or, when the Start was lost, the
first record seen) begins one; a Stop or an Accounting-On/Off of its device ends it. The same
session id after that is a new incarnation (ids restart when a NAS reboots). Within an
incarnation one interval is open per address slot: the attribute that carried the address
(Framed-IP-Address, Framed-IPv6-Address, Framed-IPv6-Prefix, Delegated-IPv6-Prefix; or the
address family for formats that carry one address). A dual-stack session holds all of them
at once, each is attributable, and none of them changing is an address change of another.

- Start opens at its time. A Start for an incarnation still open means the earlier one ended
  without a Stop: it is kept open-ended (end None, NO_STOP, last_seen; STALE judged at
  that Start).
- Interim with the same address extends (evidence, last_seen); with another address in the
  same slot it closes the interval at the Interim's time and opens a new one there, both
  flagged ADDRESS_CHANGED. The change happened somewhere in (old last_seen, new start]: the
  attribution must treat that window as ambiguous, which the flag and last_seen allow.
- Interim/Stop with no Start: the interval opens at `at - Acct-Session-Time` when the record
  carries it (flag START_FROM_SESSION_TIME), else at the record's time; flagged NO_START.
  An estimated start never reaches back before the previous close of the same session.
- A slot's first address seen after the incarnation began opens at that record, ADDRESS_LATE.
- Accounting-On/Off closes every open incarnation of its device at its time,
  CLOSED_BY_NAS_RESTART. At an equal instant it comes before a Start and after other records.
- Retransmissions (same session, kind, time and address) are merged: one step, all evidence.
- Still open at the end of input: end None, NO_STOP, and STALE when its last record is more
  than `stale_after` older than the newest event time seen. An end is never invented.
- radacct rows (SESSION_ROW) are one interval per address (IPv4, IPv6, prefixes): [starts,
  stop) or, without a stop, end None with NO_STOP and last_seen = acctupdatetime. The row only
  proves its last addresses.

Disconnect cause and usage (kept by the store as `terminate_cause`, `octets_in`, `octets_out`):

- The cause is the Acct-Terminate-Cause of the Stop that ended the interval, on every interval
  that Stop closed (each address of a dual-stack session ended for that reason). An interval
  ended otherwise (address change, Accounting-On/Off, never) has none; so has a radacct row
  without acctstoptime.
- A session's octet counters count the whole session, whatever addresses it held, so they are
  given to one address slot only, the incarnation's first (IPv4 when it has one; for a radacct
  row, its first address): summed over a session's intervals they count each octet once. The
  counters used are the last known, in event-time order: the Stop's, else the last Interim's
  that carried them (a Stop without counters keeps the Interim's).
- An address change in that slot: the closed interval gets the counters read by the Interim
  that reported the change (traffic counted up to the instant its interval ends), the new
  interval the rest (later totals minus those). A counter that goes backwards gives the later
  interval None, not a negative or a guess.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cpniguard.connectivity.events import Event, EventKind, Evidence, Flag, Network
from cpniguard.connectivity.intervals import Interval, Skipped, skip

# Nokia documents buffering accounting for up to 25 hours; later records are treated as new.
REORDER_WINDOW = timedelta(hours=25)
_SWEEP_EVERY = timedelta(hours=1)  # how often (in event time) closed sessions are released
_ORDER = {EventKind.SESSION_START: 0, EventKind.SESSION_INTERIM: 1, EventKind.SESSION_STOP: 2}

_Key = tuple[str, str]  # (device, session id)


@dataclass
class _Open:
    address: Network
    start: datetime
    last_seen: datetime
    evidence: list[Evidence]
    flags: set[Flag]
    username: str
    mac: str

    def take(self, events: list[Event], at: datetime) -> None:
        self.evidence += [e.evidence for e in events]
        self.flags.update(*(e.flags for e in events))
        self.last_seen = max(self.last_seen, at)
        self.username = self.username or _first(e.username for e in events)
        self.mac = self.mac or _first(e.mac for e in events)


@dataclass
class _Incarnation:
    head: list[Event]                 # records before any interval opened (Start, addressless)
    estimate: datetime                # where the first interval opens
    flags: set[Flag]                  # NO_START / START_FROM_SESSION_TIME, for all its intervals
    fresh: bool = True                # no step processed yet beyond the opening one
    opens: dict[str, _Open] = field(default_factory=dict)  # by address slot
    events: list[Event] = field(default_factory=list)
    produced: bool = False
    usage_slot: str | None = None     # the slot whose intervals carry the session's octets
    counters: tuple[int | None, int | None] = (None, None)  # last known (in, out) totals
    billed: tuple[int | None, int | None] = (None, None)    # given to closed intervals so far


def _first(values: Iterable[str]) -> str:
    return next((v for v in values if v), "")


def slots(event: Event) -> tuple[tuple[str, Network], ...]:
    """The record's addresses by slot: its own list, or its one address by family."""
    if event.addresses:
        return event.addresses
    return ((f"v{event.address.version}", event.address),) if event.address else ()


def session_time(event: Event) -> int | None:
    """Acct-Session-Time, which radius_detail leaves in `extra` (no field represents it)."""
    for name, value in event.extra:
        if name.lower() == "acct-session-time" and value.strip().isdigit():
            return int(value)
    return None


class _Session:
    def __init__(self, key: _Key) -> None:
        self.device, self.session_id = key
        self.events: list[Event] = []

    def last(self) -> tuple[datetime, EventKind]:
        latest = max(self.events, key=lambda e: (_at(e), _ORDER[e.kind]))
        return _at(latest), latest.kind


def _at(event: Event) -> datetime:
    assert event.at is not None  # checked before an event is buffered
    return event.at


class _Replay:
    """One session's records in time order, with its device's restarts, → intervals."""

    def __init__(self, session: _Session, newest: datetime, stale_after: timedelta,
                 skipped: Skipped | None) -> None:
        self.s = session
        self.newest = newest
        self.stale_after = stale_after
        self.skipped = skipped
        self.inc: _Incarnation | None = None
        self.prev_close: datetime | None = None
        self.out: list[Interval] = []

    def run(self, restarts: list[tuple[datetime, Event]]) -> list[Interval]:
        steps: dict[tuple[datetime, int, tuple[tuple[str, Network], ...]], list[Event]] = {}
        for e in self.s.events:
            steps.setdefault((_at(e), _ORDER[e.kind], slots(e)), []).append(e)
        pending = iter(sorted(steps.items(), key=lambda kv: (kv[0][0], kv[0][1], str(kv[0][2]))))
        r = 0
        for (at, order, _), events in pending:
            while r < len(restarts) and (restarts[r][0] < at or
                                         (restarts[r][0] == at and order == 0)):
                self.restart(*restarts[r])
                r += 1
            self.step(events[0].kind, at, events)
        if self.inc is not None and r < len(restarts):
            self.restart(*restarts[r])
        self.finish()
        return self.out

    def emit(self, o: _Open, end: datetime | None, extra: set[Flag],
             more: tuple[Evidence, ...] = (), silent_until: datetime | None = None, *,
             slot: str = "", cause: str | None = None) -> None:
        """`silent_until`: the instant staleness is judged at (default: the newest event)."""
        assert self.inc is not None
        octets = _share(self.inc) if slot == self.inc.usage_slot else (None, None)
        flags = o.flags | self.inc.flags | extra
        if end is None:
            flags.add(Flag.NO_STOP)
            if (silent_until or self.newest) - o.last_seen > self.stale_after:
                flags.add(Flag.STALE)
        self.out.append(Interval(
            address=o.address, start=o.start, end=end, source="radius",
            evidence=(*o.evidence, *more), last_seen=o.last_seen, username=o.username,
            mac=o.mac, device=self.s.device, session_id=self.s.session_id,
            flags=frozenset(flags), terminate_cause=cause, octets_in=octets[0],
            octets_out=octets[1]))
        self.inc.produced = True

    def end_incarnation(self, at: datetime | None, extra: set[Flag],
                        more: tuple[Evidence, ...] = (),
                        silent_until: datetime | None = None, cause: str | None = None) -> None:
        assert self.inc is not None
        for slot, o in self.inc.opens.items():
            self.emit(o, at, extra, more, silent_until, slot=slot, cause=cause)
        if not self.inc.produced:
            for e in self.inc.events:
                skip(self.skipped, e, "session records carry no address")
        if at is not None:
            self.prev_close = at
        self.inc = None

    def restart(self, at: datetime, event: Event) -> None:
        if self.inc is not None:
            self.end_incarnation(at, {Flag.CLOSED_BY_NAS_RESTART}, (event.evidence,))

    def begin(self, kind: EventKind, at: datetime, events: list[Event]) -> _Incarnation:
        if kind == EventKind.SESSION_START:
            return _Incarnation(head=[], estimate=at, flags=set())
        flags = {Flag.NO_START}
        estimate = at
        seconds = _first_int(session_time(e) for e in events)
        if seconds is not None:
            flags.add(Flag.START_FROM_SESSION_TIME)
            estimate = at - timedelta(seconds=seconds)
        if self.prev_close is not None and estimate < self.prev_close:
            # Acct-Session-Time is the NAS's count; the previous close of this very session
            # is a record too, and an interval of one session may not overlap another.
            estimate = min(self.prev_close, at)
        return _Incarnation(head=[], estimate=estimate, flags=flags)

    def step(self, kind: EventKind, at: datetime, events: list[Event]) -> None:
        if kind == EventKind.SESSION_START and self.inc is not None:
            # Superseded: its end is not known. Stale is judged at the superseding Start, so
            # the answer does not depend on when the session happened to be released.
            self.end_incarnation(None, set(), silent_until=at)
        if self.inc is None:
            self.inc = self.begin(kind, at, events)
        inc = self.inc
        inc.events += events
        inc.counters = (_first_int([_counter(e.octets_in) for e in events] + [inc.counters[0]]),
                        _first_int([_counter(e.octets_out) for e in events] + [inc.counters[1]]))
        addresses = dict(slots(events[0]))
        for slot, o in list(inc.opens.items()):
            address = addresses.get(slot)
            if address is not None and address != o.address:
                self.emit(o, at, {Flag.ADDRESS_CHANGED}, tuple(e.evidence for e in events),
                          slot=slot)
                inc.opens[slot] = self.open(address, at, events, {Flag.ADDRESS_CHANGED})
            else:
                o.take(events, at)
        if not addresses and not inc.opens:
            inc.head += events
        for slot, address in addresses.items():
            if slot in inc.opens:
                continue
            start = inc.estimate if inc.fresh else at
            flags = set() if inc.fresh else {Flag.ADDRESS_LATE}
            inc.opens[slot] = self.open(address, start, inc.head + events, flags)
            inc.opens[slot].last_seen = at
            inc.usage_slot = inc.usage_slot or slot
        inc.fresh = False
        if kind == EventKind.SESSION_STOP:
            self.end_incarnation(at, set(), cause=_first(e.terminate_cause for e in events)
                                 or None)

    def open(self, address: Network, start: datetime, events: list[Event],
             flags: set[Flag]) -> _Open:
        o = _Open(address=address, start=start, last_seen=start, evidence=[], flags=set(flags),
                  username="", mac="")
        o.take(events, start)
        return o

    def finish(self) -> None:
        if self.inc is not None:
            self.end_incarnation(None, set())


def _first_int(values: Iterable[int | None]) -> int | None:
    return next((v for v in values if v is not None), None)


def _counter(value: int | None) -> int | None:
    # Beyond int64 (8 EiB in one session) is a corrupt counter: unknown, not stored wrapped.
    return value if value is not None and value < 2**63 else None


def _share(inc: _Incarnation) -> tuple[int | None, int | None]:
    """The octets of the usage slot's interval closing now: the last known totals minus what
    its earlier intervals (before address changes) were given; those totals are then given."""
    shares: list[int | None] = []
    for total, given in zip(inc.counters, inc.billed, strict=True):
        if total is None:
            shares.append(None)
        elif given is None:
            shares.append(total)
        else:
            shares.append(total - given if total >= given else None)
    inc.billed = (inc.counters[0] if inc.counters[0] is not None else inc.billed[0],
                  inc.counters[1] if inc.counters[1] is not None else inc.billed[1])
    return shares[0], shares[1]


def _row(event: Event, skipped: Skipped | None) -> Iterator[Interval]:
    if not slots(event):
        skip(skipped, event, "radacct row without an address")
        return
    flags = set(event.flags)
    start = event.starts
    if start is None:
        flags.add(Flag.NO_START)
        start = event.at
    if start is None:
        skip(skipped, event, "radacct row without a start or update time")
        return
    if event.ends is not None and event.ends < start:
        skip(skipped, event, "radacct row stops before it starts")
        return
    if event.ends is None:
        flags.add(Flag.NO_STOP)
    cause = (event.terminate_cause or None) if event.ends is not None else None
    for number, (_slot, address) in enumerate(slots(event)):  # dual stack: one per address
        yield Interval(
            address=address, start=start, end=event.ends, source="radius",
            evidence=(event.evidence,), last_seen=event.ends or event.at,
            username=event.username, mac=event.mac, device=event.device,
            session_id=event.session_id, flags=frozenset(flags), terminate_cause=cause,
            # The row's counters are the session's: on its first address only (see above).
            octets_in=_counter(event.octets_in) if number == 0 else None,
            octets_out=_counter(event.octets_out) if number == 0 else None)


def radius_intervals(events: Iterable[Event], *, stale_after: timedelta,
                     reorder_window: timedelta = REORDER_WINDOW,
                     skipped: Skipped | None = None) -> Iterator[Interval]:
    """Intervals from RADIUS events (any mix of detail records and radacct rows).

    Output order: radacct rows as read; sessions as they are released, then the rest at the
    end of input, by (device, session id).
    """
    sessions: dict[_Key, _Session] = {}
    restarts: dict[str, list[tuple[datetime, Event]]] = {}
    newest: datetime | None = None
    swept: datetime | None = None
    for event in events:
        if event.kind not in (*_ORDER, EventKind.NAS_ON, EventKind.NAS_OFF,
                              EventKind.SESSION_ROW):
            skip(skipped, event, f"{event.kind} is not a RADIUS accounting event")
            continue
        if event.at is not None:
            newest = event.at if newest is None else max(newest, event.at)
        if event.kind == EventKind.SESSION_ROW:
            yield from _row(event, skipped)
            continue
        if event.at is None:
            skip(skipped, event, "accounting record without a time")
            continue
        if event.kind in (EventKind.NAS_ON, EventKind.NAS_OFF):
            bisect.insort(restarts.setdefault(event.device, []), (event.at, event),
                          key=lambda item: item[0])
            continue
        if not event.session_id:
            skip(skipped, event, "accounting record without a session id")
            continue
        key = (event.device, event.session_id)
        sessions.setdefault(key, _Session(key)).events.append(event)
        assert newest is not None
        if swept is None or newest - swept >= _SWEEP_EVERY:
            swept = newest
            yield from _release(sessions, restarts, newest, stale_after, reorder_window,
                                skipped)
    for key in sorted(sessions):
        assert newest is not None
        yield from _replay(sessions[key], restarts, newest, stale_after, skipped)


def _replay(session: _Session, restarts: dict[str, list[tuple[datetime, Event]]],
            newest: datetime, stale_after: timedelta,
            skipped: Skipped | None) -> list[Interval]:
    return _Replay(session, newest, stale_after, skipped).run(restarts.get(session.device, []))


def _release(sessions: dict[_Key, _Session], restarts: dict[str, list[tuple[datetime, Event]]],
             newest: datetime, stale_after: timedelta, window: timedelta,
             skipped: Skipped | None) -> Iterator[Interval]:
    """Replay and forget sessions closed longer than `window` ago (in event time)."""
    done: list[_Key] = []
    for key, session in sessions.items():
        last, kind = session.last()
        closed: datetime | None = last if kind == EventKind.SESSION_STOP else None
        if closed is None:
            device = restarts.get(session.device, [])
            i = bisect.bisect_left(device, last, key=lambda item: item[0])
            closed = device[i][0] if i < len(device) else None
        if closed is not None and newest - closed >= window:
            done.append(key)
    for key in done:
        yield from _replay(sessions.pop(key), restarts, newest, stale_after, skipped)


__all__ = ["REORDER_WINDOW", "radius_intervals", "session_time"]
