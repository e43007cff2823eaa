"""Who held address X (and port P) at instant T, from the log store, without ever guessing.

The answer is `match` only when the stored evidence names exactly one identifiable holder
and nothing casts doubt on it: no other holder within the skew window (a handover the clocks
cannot order), no flag saying the times themselves are uncertain, and, for an interval no
record closed, `at` no later than the last record proving it alive. Everything else that
found somebody is `ambiguous`, with every candidate and the reason, so a person decides.

A shared CGNAT public address names many subscribers at once; without a port the engine
refuses (`port_required`) and names nobody, since listing them all would disclose far more
than any single request covers. With a port, the port-block row gives the inside address,
which is attributed at the same instant (one level only: nested NAT is reported, not chased).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from cpniguard.connectivity.events import IDENTITY_FIELDS, Evidence, Flag
from cpniguard.connectivity.store import ALL_PORTS, OPEN_END, LogStore, Match, Query
from cpniguard.connectivity.store.schema import Address, from_us, to_us

# Flags saying the recorded times may not be the real ones: any of them on an interval near
# `at` makes the answer ambiguous. ADDRESS_CHANGED is handled apart: it only matters close to
# the change (see `_change_near`).
_TIME_DOUBT = frozenset({Flag.AMBIGUOUS_LOCAL_TIME, Flag.NONEXISTENT_LOCAL_TIME, Flag.OVERLAP,
                         Flag.CLOCK_DISAGREES})
_INSIDE = "inside="


ContinuationKey = tuple[str, str, str, str, int]  # source, device, session, network, start


class Continued(Protocol):
    """A later file's interval for an open row's session (see connectivity.continuity)."""

    @property
    def start(self) -> int: ...
    @property
    def file(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def line(self) -> int | None: ...


class ContinuationLookup(Protocol):
    def get(self, key: ContinuationKey) -> Continued | None: ...


Continuations = Callable[[list[ContinuationKey]], ContinuationLookup]


class Status(StrEnum):
    MATCH = "match"
    AMBIGUOUS = "ambiguous"
    NO_MATCH = "no_match"
    PORT_REQUIRED = "port_required"


@dataclass(frozen=True, slots=True)
class Holder:
    """Who held the address; for a CGNAT port block, the inside address it translated to."""

    username: str = ""
    mac: str = ""
    client_id: str = ""
    duid: str = ""
    circuit_id: str = ""
    remote_id: str = ""
    device: str = ""
    inside: str = ""

    @property
    def identified(self) -> bool:
        # A device alone (the NAS, the DHCP server) identifies no subscriber.
        return any((self.username, self.mac, self.client_id, self.duid, self.circuit_id,
                    self.remote_id, self.inside))


@dataclass(frozen=True, slots=True)
class Candidate:
    holder: Holder
    address: str                  # the stored network: /32, /128 or a delegated prefix
    source: str                   # radius, dhcp, cgnat, ...
    start: datetime
    end: datetime | None          # None: no record says when it ended
    last_seen: datetime | None
    flags: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    session_id: str = ""
    via_prefix: str | None = None
    ports: tuple[int, int] | None = None
    stored: tuple[str, ...] = ()  # source/day/part#row of each stored row, for the record

    def contains(self, at: datetime) -> bool:
        return self.start <= at and (self.end is None or at < self.end)

    def to_dict(self) -> dict[str, Any]:
        return {
            "holder": {k: v for k, v in _holder_items(self.holder) if v},
            "address": self.address, "via_prefix": self.via_prefix, "source": self.source,
            "ports": list(self.ports) if self.ports else None, "session_id": self.session_id,
            "interval": {"start": _iso(self.start), "end": _iso(self.end),
                         "last_seen": _iso(self.last_seen), "flags": list(self.flags)},
            "evidence": [{"file": e.file, "line": e.line, "sha256": e.sha256}
                         for e in self.evidence],
            "stored": list(self.stored),
        }


@dataclass(frozen=True, slots=True)
class Answer:
    address: str
    port: int | None
    at: datetime                  # always UTC
    skew: timedelta
    status: Status
    reason: str
    candidates: tuple[Candidate, ...] = ()
    # CGNAT: the port-block row that led from the public address to `inside_address`.
    translation: Candidate | None = None
    inside_address: str | None = None

    def to_dict(self) -> dict[str, Any]:
        chain = ([self.translation] if self.translation else []) + list(self.candidates)
        return {
            "address": self.address, "port": self.port, "at": _iso(self.at),
            "skew_seconds": self.skew.total_seconds(), "status": str(self.status),
            "reason": self.reason, "candidates": [c.to_dict() for c in self.candidates],
            "translation": self.translation.to_dict() if self.translation else None,
            "inside_address": self.inside_address,
            "evidence_chain": [{"file": e.file, "line": e.line, "sha256": e.sha256}
                               for c in chain for e in c.evidence],
        }


def _holder_items(holder: Holder) -> list[tuple[str, str]]:
    return [(name, getattr(holder, name)) for name in Holder.__slots__]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def continuation_key(match: Match) -> ContinuationKey:
    row = match.interval
    return (match.source, row.device, row.session_id, str(row.address), row.original_start)


def _open_keys(matches: Iterable[list[Match]]) -> list[ContinuationKey]:
    return [continuation_key(m) for found in matches for m in found
            if m.interval.original_end == OPEN_END and m.interval.session_id]


def _candidates(matches: list[Match], later: ContinuationLookup | None = None
                ) -> list[Candidate]:
    """One candidate per interval as built: rows split at midnight are joined back.

    An open row whose session a later file continues is dropped when the later interval
    covers it, else ends where the later one begins (flag CONTINUED, its evidence added).
    """
    merged: dict[tuple[Any, ...], Candidate] = {}
    for match in matches:
        row = match.interval
        cut: Continued | None = None
        if later is not None and row.original_end == OPEN_END and row.session_id:
            cut = later.get(continuation_key(match))
            if cut is not None and cut.start <= row.original_start:
                continue
        network = row.address
        ports = None if row.port_first == ALL_PORTS else (row.port_first, row.port_last)
        inside = row.session_id if ports and row.session_id.startswith(_INSIDE) else ""
        holder = Holder(**{name: getattr(row, name) for name in IDENTITY_FIELDS},
                        device=row.device, inside=inside)
        key = (holder, str(network), ports, row.source, row.session_id, row.original_start,
               row.original_end)
        place = f"{match.source}/{match.day}/{match.part}#{match.row}"
        known = merged.get(key)
        if known is not None:
            merged[key] = Candidate(
                known.holder, known.address, known.source, known.start, known.end,
                known.last_seen, known.flags,
                known.evidence + tuple(e for e in row.evidence if e not in known.evidence),
                known.session_id, known.via_prefix, known.ports, (*known.stored, place))
            continue
        full = network.prefixlen == network.max_prefixlen
        flags = tuple(f for f in row.flags.split(",") if f)
        evidence = row.evidence
        end = None if row.original_end == OPEN_END else from_us(row.original_end)
        if cut is not None:
            end, flags = from_us(cut.start), (*flags, str(Flag.CONTINUED))
            evidence = (*evidence, Evidence(cut.file, cut.line or 0, cut.sha256))
        merged[key] = Candidate(
            holder=holder, address=str(network), source=row.source,
            start=from_us(row.original_start), end=end,
            last_seen=None if row.last_seen is None else from_us(row.last_seen),
            flags=flags, evidence=evidence,
            session_id=row.session_id, via_prefix=None if full else str(network),
            ports=ports, stored=(place,))
    return sorted(merged.values(), key=_candidate_order)


def _candidate_order(c: Candidate) -> tuple[Any, ...]:
    """A total order from what a candidate says, never from where its rows were kept: two
    rows of one session starting together (a port block logged twice, once closed) must
    give the same answer, the same translation and the same evidence first, whichever store
    or partition layout returned them in whichever order."""
    return (c.start, c.address, c.session_id, c.end is None, c.end or c.start, c.source,
            c.last_seen is None, c.last_seen or c.start,
            tuple((e.file, e.line, e.sha256) for e in c.evidence))


def _change_near(candidate: Candidate, at: datetime, skew: timedelta) -> bool:
    """An address change happened somewhere in (old last_seen, new start]: doubt is there."""
    if Flag.ADDRESS_CHANGED not in candidate.flags:
        return False
    if candidate.last_seen is not None and at > candidate.last_seen:
        return True
    edges = [candidate.start] + ([candidate.end] if candidate.end is not None else [])
    return any(abs(at - edge) <= skew for edge in edges)


def _doubts(candidate: Candidate, at: datetime, skew: timedelta) -> list[str]:
    found = sorted(set(candidate.flags) & _TIME_DOUBT)
    if _change_near(candidate, at, skew):
        found.append(str(Flag.ADDRESS_CHANGED))
    return found


def _decide(matches: list[Match], at: datetime, skew: timedelta,
            later: ContinuationLookup | None = None) -> tuple[Status, str, list[Candidate]]:
    # A row cut by a later file's continuation may no longer reach the window at all.
    candidates = [c for c in _candidates(matches, later) if c.end is None or c.end > at - skew]
    if not candidates:
        return Status.NO_MATCH, "no stored interval holds the address near this instant", []
    holders = {c.holder for c in candidates}
    if len(holders) > 1:
        return (Status.AMBIGUOUS, f"{len(holders)} holders within {skew} of the instant "
                "(handover or overlap the clocks cannot order)", candidates)
    [holder] = holders
    containing = [c for c in candidates if c.contains(at)]
    if not containing:
        return (Status.AMBIGUOUS, "no interval contains the instant; one ends or starts "
                f"within the {skew} skew", candidates)
    if not holder.identified:
        return Status.AMBIGUOUS, "the holding record identifies no subscriber", candidates
    doubts = sorted({d for c in containing for d in _doubts(c, at, skew)})
    if doubts:
        return (Status.AMBIGUOUS, f"the interval is flagged {', '.join(doubts)}",
                candidates)
    proven = [c for c in containing if c.end is not None
              or (c.last_seen is not None and at <= c.last_seen)]
    if not proven:
        seen = max((c.last_seen for c in containing if c.last_seen is not None), default=None)
        return (Status.AMBIGUOUS, "no record ends the holding and it was last seen alive at "
                f"{_iso(seen) or 'an unknown time'}", candidates)
    return Status.MATCH, "one holder, interval contains the instant", candidates


def _inside_address(candidate: Candidate) -> Address | None:
    """`inside=<addr>[/plen][/proto]` → the single inside address, or None if not one."""
    parts = candidate.session_id.removeprefix(_INSIDE).split("/")
    try:
        address = ipaddress.ip_address(parts[0])
    except ValueError:
        return None
    if len(parts) > 1 and parts[1].isdigit() and int(parts[1]) != address.max_prefixlen:
        return None  # a block translating a whole inside network names no one
    return address


@dataclass(frozen=True, slots=True)
class _Hop:
    """A port block that matched: its inside address is attributed in the next round."""

    block: Candidate
    inside: Address
    candidates: tuple[Candidate, ...]


def _checked(at: datetime, skew: timedelta) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive instant {at!r}: give an offset or a zone, never a bare time")
    if skew < timedelta(0):
        raise ValueError("skew must not be negative")
    return from_us(to_us(at))  # UTC, at the store's microsecond resolution


def attribute(store: LogStore, address: str, at: datetime, *, port: int | None,
              skew: timedelta, cgnat_public: Callable[[Address], bool] | None = None,
              continuations: Continuations | None = None) -> Answer:
    return attribute_many(store, [(address, at, port)], skew=skew,
                          cgnat_public=cgnat_public, continuations=continuations)[0]


def attribute_many(store: LogStore, asks: Sequence[tuple[str, datetime, int | None]], *,
                   skew: timedelta, cgnat_public: Callable[[Address], bool] | None = None,
                   continuations: Continuations | None = None) -> list[Answer]:
    """Answer many (address, instant, port) questions with two batched store lookups.

    Same answers as asking one by one: the first round finds holders and port blocks, the
    second attributes the inside addresses of the blocks that matched.
    """
    parsed = [(ipaddress.ip_address(address), _checked(at, skew), port)
              for address, at, port in asks]
    first = store.batch_lookup([Query(a, at, port, skew) for a, at, port in parsed])
    later = continuations(_open_keys(first)) if continuations else None
    answers: list[Answer | None] = []
    hops: list[tuple[int, _Hop]] = []
    for number, ((address, at, port), matches) in enumerate(zip(parsed, first, strict=True)):
        step = _step(address, at, port, skew, matches, cgnat_public, later, hops_left=1)
        if isinstance(step, _Hop):
            hops.append((number, step))
            answers.append(None)
        else:
            answers.append(step)
    second = store.batch_lookup([Query(hop.inside, parsed[n][1], None, skew) for n, hop in hops])
    later = continuations(_open_keys(second)) if continuations and hops else None
    for (number, hop), matches in zip(hops, second, strict=True):
        address, at, port = parsed[number]
        inner = _step(hop.inside, at, None, skew, matches, None, later, hops_left=0)
        assert not isinstance(inner, _Hop)  # hops_left=0 never hops again
        answers[number] = Answer(
            str(address), port, at, skew, inner.status,
            f"port block maps to {hop.inside}: {inner.reason}", inner.candidates,
            translation=hop.block, inside_address=str(hop.inside))
    return [answer for answer in answers if answer is not None]


def _step(address: Address, at: datetime, port: int | None, skew: timedelta,
          matches: list[Match], cgnat_public: Callable[[Address], bool] | None,
          later: ContinuationLookup | None, hops_left: int) -> Answer | _Hop:
    def answer(status: Status, reason: str, candidates: list[Candidate] | tuple[Candidate, ...]
               = ()) -> Answer:
        return Answer(str(address), port, at, skew, status, reason, tuple(candidates))

    blocks = [m for m in matches if m.interval.port_first != ALL_PORTS]
    if blocks and hops_left == 0:
        # The inside address is itself behind another NAT; one level is all we follow.
        return answer(Status.AMBIGUOUS, "nested NAT: the inside address is translated again",
                      _candidates(matches, later))
    if port is None and (blocks or (cgnat_public is not None and cgnat_public(address))):
        return answer(Status.PORT_REQUIRED, "a shared CGNAT public address: give the source "
                      "port; nobody is named without it")
    status, reason, candidates = _decide(matches, at, skew, later)
    block = next((c for c in candidates if c.contains(at)), None)
    if status is not Status.MATCH or block is None or block.ports is None:
        return answer(status, reason, candidates)
    inside = _inside_address(block)
    if inside is None:
        return answer(Status.AMBIGUOUS, "the port block names no single inside address "
                      f"({block.session_id!r})", candidates)
    return _Hop(block, inside, tuple(candidates))
