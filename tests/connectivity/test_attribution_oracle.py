"""Property: attribution over the store answers exactly as attribution over a brute-force
scan of the same intervals, and a `match` is always backed by the scan.

The brute-force store keeps the intervals as built (no day split, no index) and tests every
one of them against each query, with the store's documented semantics: the address inside
the row's network, the row intersecting [at - skew, at + skew], the port inside the block,
and an open row known up to the day of its last proof of life.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from cpniguard.connectivity.attribution import Status, attribute
from cpniguard.connectivity.events import Evidence, Flag
from cpniguard.connectivity.store import (
    ALL_PORTS,
    OPEN_END,
    EmbeddedLogStore,
    Match,
    PartitionInfo,
    Query,
    StoredInterval,
)
from cpniguard.connectivity.store.schema import DAY_US, Address, address_key, to_us

T0 = datetime(2024, 3, 4, 12, tzinfo=UTC)
NETWORKS = ["192.0.2.1/32", "192.0.2.2/32", "100.64.0.1/32", "100.64.0.2/32",
            "2001:db8:1::/56", "2001:db8:1:5::9/128"]
PROBES = ["192.0.2.1", "192.0.2.2", "100.64.0.1", "2001:db8:1:5::9", "2001:db8:1:6::1"]
HOLDERS = ["alice", "bob", "carol", ""]


class BruteForceStore:
    """Every row tested against every query: slow, obviously right."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, StoredInterval]] = []

    def add(self, source: str, rows: Iterable[StoredInterval]) -> object:
        self.rows += [(source, row) for row in rows]
        return None

    def lookup(self, address: Address | str, at: datetime, *, port: int | None = None,
               skew: timedelta = timedelta(0)) -> list[Match]:
        return self.batch_lookup([Query(address, at, port, skew)])[0]

    def batch_lookup(self, queries: Iterable[Query]) -> list[list[Match]]:
        return [self._scan(query) for query in queries]

    def _scan(self, query: Query) -> list[Match]:
        probe = ipaddress.ip_address(str(query.address))
        low, high = to_us(query.at - query.skew), to_us(query.at + query.skew)
        found = []
        for number, (source, row) in enumerate(self.rows):
            if probe.version != row.address.version or probe not in row.address:
                continue
            if (query.port is not None and row.port_first != ALL_PORTS
                    and not row.port_first <= query.port <= row.port_last):
                continue
            if row.end == OPEN_END:
                last_day = max(row.start, row.last_seen or row.start) // DAY_US
                if row.start <= high and low // DAY_US <= last_day:
                    found.append(Match(row, source, "", 0, number))
            elif row.start <= high and row.end > low:
                found.append(Match(row, source, "", 0, number))
        return found

    def partitions(self, source: str | None = None) -> list[PartitionInfo]:
        return []

    def drop_partition(self, source: str, day: date | str, part: int | None = None
                       ) -> list[Path]:
        return []


Spec = tuple[int, int, int | None, int | None, int, bool, str]
specs = st.tuples(
    st.integers(0, len(NETWORKS) - 1),           # network
    st.integers(0, 720),                          # start, minutes after T0 (crosses midnight)
    st.one_of(st.none(), st.integers(1, 600)),    # length; None: open
    st.one_of(st.none(), st.integers(0, 900)),    # last seen, minutes after start (open)
    st.integers(0, len(HOLDERS) - 1),
    st.booleans(),                                # a flag casting doubt on the times
    st.sampled_from(["", "inside=100.64.0.1", "inside=100.64.0.2"]),  # CGNAT rows
)
asks = st.tuples(st.sampled_from(PROBES), st.integers(0, 1500),
                 st.one_of(st.none(), st.sampled_from([1100, 5000])), st.sampled_from([0, 2, 90]))


def _row(number: int, spec: Spec) -> tuple[str, StoredInterval]:
    network, start, length, seen, holder, doubt, inside = spec
    hi, lo, plen = address_key(NETWORKS[network])
    begin = to_us(T0 + timedelta(minutes=start))
    end = OPEN_END if length is None else begin + length * 60_000_000
    nat = bool(inside) and plen == 128  # only host rows become port blocks
    return ("cgnat" if nat else "radius"), StoredInterval(
        hi=hi, lo=lo, plen=plen, start=begin, end=end, original_start=begin,
        original_end=end, source="cgnat" if nat else "radius",
        last_seen=None if length is not None else begin + (seen or 0) * 60_000_000,
        port_first=1024 if nat else ALL_PORTS, port_last=2047 if nat else ALL_PORTS,
        username="" if nat else HOLDERS[holder], session_id=inside if nat else f"s{number}",
        flags=str(Flag.OVERLAP) if doubt else "",
        evidence=(Evidence(f"/logs/{number}", number + 1, "ab" * 32),))


def _comparable(answer: Any) -> dict[str, Any]:
    data = answer.to_dict()
    for candidate in [*data["candidates"], *([data["translation"]] if data["translation"]
                                             else [])]:
        candidate.pop("stored")
    return data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(specs, max_size=20), st.lists(asks, min_size=1, max_size=8))
# Found here once: two port blocks of one inside address starting together, one closed a
# minute later, one open. The store returned them in index order (by end), the scan in
# insertion order, and each chose its first as the translation.
@example(rows=[(1, 0, None, None, 0, False, "inside=100.64.0.1"),
               (1, 0, 1, None, 0, False, "inside=100.64.0.1")],
         questions=[("192.0.2.2", 0, 1100, 0)])
def test_attribution_equals_a_brute_force_scan(tmp_path_factory: Any, rows: list[Spec],
                                               questions: list[tuple[str, int, int | None,
                                                                     int]]) -> None:
    store = EmbeddedLogStore(tmp_path_factory.mktemp("oracle"))
    brute = BruteForceStore()
    by_source: dict[str, list[StoredInterval]] = {}
    for number, spec in enumerate(rows):
        source, row = _row(number, spec)
        by_source.setdefault(source, []).append(row)
        brute.add(source, [row])
    for source, stored in by_source.items():
        store.add(source, stored)
    for probe, minute, port, skew_minutes in questions:
        at, skew = T0 + timedelta(minutes=minute), timedelta(minutes=skew_minutes)
        fast = attribute(store, probe, at, port=port, skew=skew)
        slow = attribute(brute, probe, at, port=port, skew=skew)
        event(str(fast.status))
        assert _comparable(fast) == _comparable(slow)
        if fast.status is Status.MATCH:
            # A match names one holder, and the scan finds nobody else near the instant.
            holders = {c.holder for c in slow.candidates}
            assert len(holders) == 1
            assert any(c.contains(at) for c in slow.candidates)
