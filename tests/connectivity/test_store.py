"""The log stores: exact attribution, day split, retention; crash safety and immutability of
the embedded one. Every behaviour test runs on both backends: embedded and ClickHouse (chDB)."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpniguard.connectivity.events import Evidence, Flag
from cpniguard.connectivity.intervals import Interval
from cpniguard.connectivity.store import (
    EmbeddedLogStore,
    LogStore,
    Match,
    Query,
    StoredInterval,
    from_interval,
)
from cpniguard.connectivity.store.clickhouse_client import ConnectExecutor
from cpniguard.connectivity.store.schema import DAY_US, address_key, to_us
from tests.connectivity.logstores import BACKENDS, AnyStore, fresh_store

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def at(hours: float, day: int = 0) -> datetime:
    return T0 + timedelta(days=day, hours=hours)


def row(
    network: str, start: datetime, end: datetime | None, *, sid: str = "s",
    last_seen: datetime | None = None, ports: tuple[int, int] | None = None, **extra: str,
) -> StoredInterval:
    interval = Interval(
        address=ipaddress.ip_network(network), start=start, end=end, source="radius",
        evidence=(Evidence("radius/detail-20240301", 7, "ab" * 32),), last_seen=last_seen,
        session_id=sid, flags=frozenset({Flag.NO_START}),
        port_first=None if ports is None else ports[0],
        port_last=None if ports is None else ports[1], **extra,
    )
    return from_interval(interval)


def look(store: AnyStore, address: str, when: datetime, *, port: int | None = None,
         skew: timedelta = timedelta(0)) -> list[Match]:
    """`lookup`, checked against the same query inside a batch (ClickHouse plans the two
    differently: a single query is filtered, a batch joined)."""
    found = store.lookup(address, when, port=port, skew=skew)
    query = Query(address, when, port, skew)
    assert store.batch_lookup([query, Query("192.0.2.254", when), query]) == [found, [], found]
    return found


def sids(matches: list[Match]) -> list[str]:
    return sorted(m.interval.session_id for m in matches)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, chdb_engine: ConnectExecutor,
          tmp_path: Path) -> Iterator[AnyStore]:
    with fresh_store(request.param, chdb_engine, tmp_path) as made:
        yield made


@pytest.fixture
def embedded(tmp_path: Path) -> EmbeddedLogStore:
    return EmbeddedLogStore(tmp_path / "store")


def test_round_trip_keeps_every_field(store: AnyStore) -> None:
    original = row("192.0.2.10/32", at(1), at(2), sid="abc", username="alice",
                   mac="00:11:22:33:44:55", device="nas1", circuit_id="c1")
    store.add("nas1", [original])
    [match] = look(store, "192.0.2.10", at(1.5))
    assert match.interval == original
    assert match.interval.address == ipaddress.ip_network("192.0.2.10/32")
    assert (match.source, match.day, match.part) == ("nas1", "2024-03-01", 1)
    assert match.interval.flags == "no-start"
    assert match.interval.evidence == (Evidence("radius/detail-20240301", 7, "ab" * 32),)
    assert isinstance(store, LogStore)


def test_half_open_boundaries(store: AnyStore) -> None:
    store.add("nas1", [row("192.0.2.10/32", at(1), at(2))])
    assert sids(look(store, "192.0.2.10", at(1))) == ["s"]
    assert look(store, "192.0.2.10", at(2)) == []
    assert look(store, "192.0.2.10", at(1) - timedelta(microseconds=1)) == []
    assert look(store, "192.0.2.11", at(1.5)) == []


def test_day_split_keeps_original_start_and_end(store: AnyStore) -> None:
    manifests = store.add("nas1", [row("192.0.2.10/32", at(22), at(3, day=1))])
    assert [p.parent.name for p in manifests] == ["2024-03-01", "2024-03-02"]
    [before] = look(store, "192.0.2.10", at(23))
    [after] = look(store, "192.0.2.10", at(1, day=1))
    assert (before.interval.start, before.interval.end) == (to_us(at(22)), to_us(at(0, day=1)))
    assert (after.interval.start, after.interval.end) == (to_us(at(0, day=1)), to_us(at(3, 1)))
    for match in (before, after):
        assert match.interval.original_start == to_us(at(22))
        assert match.interval.original_end == to_us(at(3, day=1))


def test_end_at_midnight_touches_one_day(store: AnyStore) -> None:
    manifests = store.add("nas1", [row("192.0.2.10/32", at(10), at(0, day=1))])
    assert [p.parent.name for p in manifests] == ["2024-03-01"]


def test_ipv6_delegated_prefixes(store: AnyStore) -> None:
    store.add("bng", [
        row("2001:db8:1200::/56", at(0), at(10), sid="pd56"),
        row("2001:db8:1200:7::/64", at(0), at(10), sid="pd64"),
        row("2001:db8:1200:7::1/128", at(0), at(10), sid="host"),
        row("2001:db8:1300::/56", at(0), at(10), sid="other"),
        row("0.0.0.1/32", at(0), at(10), sid="v4low"),
    ])
    assert sids(look(store, "2001:db8:1200:7::1", at(5))) == ["host", "pd56", "pd64"]
    assert sids(look(store, "2001:db8:1200:7::2", at(5))) == ["pd56", "pd64"]
    assert sids(look(store, "2001:db8:1200:ff::1", at(5))) == ["pd56"]
    assert look(store, "2001:db8:1201::1", at(5)) == []
    assert look(store, "::1", at(5)) == []  # the IPv4 key space is apart from IPv6's
    assert sids(look(store, "0.0.0.1", at(5))) == ["v4low"]


def test_cgnat_port_ranges(store: AnyStore) -> None:
    store.add("cgnat1", [
        row("203.0.113.5/32", at(0), at(10), sid="a", ports=(1024, 2047)),
        row("203.0.113.5/32", at(0), at(10), sid="b", ports=(2048, 3071)),
        row("203.0.113.6/32", at(0), at(10), sid="whole"),
    ])
    assert sids(look(store, "203.0.113.5", at(5), port=2047)) == ["a"]
    assert sids(look(store, "203.0.113.5", at(5), port=2048)) == ["b"]
    assert look(store, "203.0.113.5", at(5), port=80) == []
    assert sids(look(store, "203.0.113.5", at(5))) == ["a", "b"]
    assert sids(look(store, "203.0.113.6", at(5), port=80)) == ["whole"]


def test_skew_window_reports_both_sides_of_a_handover(store: AnyStore) -> None:
    store.add("nas1", [
        row("192.0.2.10/32", at(20), at(0, day=1), sid="evening"),
        row("192.0.2.10/32", at(0, day=1), at(5, day=1), sid="night"),
    ])
    midnight = at(0, day=1)
    assert sids(look(store, "192.0.2.10", midnight)) == ["night"]
    both = look(store, "192.0.2.10", midnight, skew=timedelta(seconds=1))
    assert sids(both) == ["evening", "night"]
    assert {m.day for m in both} == {"2024-03-01", "2024-03-02"}
    assert sids(look(store, "192.0.2.10", at(23), skew=timedelta(minutes=30))) == ["evening"]


def test_open_intervals_reach_their_last_proof_of_life(store: AnyStore) -> None:
    store.add("dhcp1", [
        row("192.0.2.20/32", at(10), None, sid="seen", last_seen=at(4, day=1)),
        row("192.0.2.21/32", at(10), None, sid="unseen"),
    ])
    assert sids(look(store, "192.0.2.20", at(23))) == ["seen"]
    [late] = look(store, "192.0.2.20", at(20, day=1))
    assert late.interval.is_open
    assert late.interval.last_seen == to_us(at(4, day=1))
    assert look(store, "192.0.2.20", at(1, day=2)) == []
    assert sids(look(store, "192.0.2.21", at(23.9))) == ["unseen"]
    assert look(store, "192.0.2.21", at(0.1, day=1)) == []


def _visible_files(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}


def test_crash_leftovers_are_invisible_and_rerun_works(embedded: EmbeddedLogStore) -> None:
    store = embedded
    [manifest] = store.add("nas1", [row("192.0.2.10/32", at(1), at(2), sid="one")])
    directory = manifest.parent
    # A crash before publishing: a half-written temp file and a partition without manifest.
    (directory / ".part-000002.parquet.tmp-999").write_bytes(b"PAR1 truncated")
    for path in directory.glob("part-000001.*"):
        if not path.name.endswith("manifest.json"):
            shutil.copy(path, directory / path.name.replace("000001", "000003"))
    assert [p.part for p in store.partitions()] == [1]
    assert sids(look(store, "192.0.2.10", at(1.5))) == ["one"]
    [again] = store.add("nas1", [row("192.0.2.10/32", at(1), at(3), sid="two")])
    assert again.name == "part-000004.manifest.json"
    assert sids(look(store, "192.0.2.10", at(1.5))) == ["one", "two"]
    assert [p.part for p in store.partitions()] == [1, 4]


def test_new_data_never_rewrites_a_partition(embedded: EmbeddedLogStore) -> None:
    store = embedded
    [first] = store.add("nas1", [row("192.0.2.10/32", at(1), at(2), sid="one")])
    before = _visible_files(first.parent)
    manifest = json.loads(first.read_text())
    assert {name: before[name] for name in manifest["files"]} == manifest["files"]
    [second] = store.add("nas1", [row("192.0.2.11/32", at(1), at(2), sid="two")])
    after = _visible_files(first.parent)
    assert second.name == "part-000002.manifest.json"
    assert {name: after[name] for name in before} == before


def test_drop_partition_removes_whole_files(store: AnyStore) -> None:
    store.add("nas1", [row("192.0.2.10/32", at(22), at(3, day=1))])
    assert sids(look(store, "192.0.2.10", at(23))) == ["s"]
    [dropped] = store.drop_partition("nas1", "2024-03-01")
    assert dropped.parent.name == "2024-03-01"
    if isinstance(store, EmbeddedLogStore):
        assert not dropped.parent.exists()
    assert look(store, "192.0.2.10", at(23)) == []
    assert sids(look(store, "192.0.2.10", at(1, day=1))) == ["s"]
    assert [p.day for p in store.partitions()] == ["2024-03-02"]
    with pytest.raises(ValueError, match="source"):
        store.drop_partition("../etc", "2024-03-01")


def test_refuses_to_guess(store: AnyStore) -> None:
    store.add("nas1", [row("192.0.2.10/32", at(1), at(2))])
    with pytest.raises(ValueError, match="naive"):
        look(store, "192.0.2.10", datetime(2024, 3, 1, 1))
    with pytest.raises(ValueError, match="single address"):
        look(store, "192.0.2.0/24", at(1))
    with pytest.raises(ValueError, match="reserved for IPv4"):
        row("::ffff:192.0.2.10/128", at(1), at(2))
    with pytest.raises(ValueError, match="host bits"):
        StoredInterval(hi=0, lo=1, plen=64, start=0, end=1, original_start=0, original_end=1)
    with pytest.raises(ValueError, match="ends before"):
        row("192.0.2.10/32", at(2), at(1))
    with pytest.raises(ValueError, match="source"):
        store.add("a/b", [])


ADDRESSES = ["192.0.2.1/32", "192.0.2.2/32", "2001:db8:1::/56", "2001:db8:1:5::/64",
             "2001:db8:1:5::9/128"]
PROBES = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8:1:5::9", "2001:db8:1:6::1"]
minutes = st.integers(min_value=0, max_value=3 * 1440)

intervals = st.tuples(
    st.sampled_from(ADDRESSES), minutes, st.integers(0, 2 * 1440), st.booleans(),
    st.one_of(st.none(), st.integers(0, 2 * 1440)),
    st.one_of(st.none(), st.sampled_from([(0, 1023), (1024, 2047)])),
)
queries = st.tuples(
    st.sampled_from(PROBES), minutes, st.sampled_from([0, 1, 90]),
    st.one_of(st.none(), st.sampled_from([80, 1024, 5000])),
)


Spec = tuple[str, int, int, bool, int | None, tuple[int, int] | None]


def _oracle(specs: list[Spec],
            query: tuple[str, int, int, int | None]) -> set[str]:
    """Brute force over the intervals as built, before any day split."""
    probe, minute, skew, port = query
    low, high = (minute - skew) * 60_000_000, (minute + skew) * 60_000_000
    found = set()
    for number, (network, start, length, is_open, seen, ports) in enumerate(specs):
        s = start * 60_000_000
        if ipaddress.ip_address(probe) not in ipaddress.ip_network(network):
            continue
        if port is not None and ports is not None and not ports[0] <= port <= ports[1]:
            continue
        if is_open:
            # Open: held from start, known only up to the day of the last proof of life.
            last_day = max(s, s + (seen or 0) * 60_000_000) // DAY_US
            if s <= high and low // DAY_US <= last_day:
                found.add(str(number))
        elif s <= high and s + length * 60_000_000 > low:
            found.add(str(number))
    return found


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=60, deadline=None)
@given(st.lists(intervals, max_size=25), st.lists(queries, min_size=1, max_size=12),
       st.integers(1, 3))
def test_lookup_equals_brute_force_oracle(
    chdb_engine: ConnectExecutor, backend: str,
    specs: list[Spec], probes: list[tuple[str, int, int, int | None]], batches: int,
) -> None:
    rows = []
    for number, (network, start, length, is_open, seen, ports) in enumerate(specs):
        begin = T0 + timedelta(minutes=start)
        rows.append(row(
            network, begin, None if is_open else begin + timedelta(minutes=length),
            sid=str(number), ports=ports,
            last_seen=None if seen is None or not is_open else begin + timedelta(minutes=seen),
        ))
    with tempfile.TemporaryDirectory() as root, fresh_store(
            backend, chdb_engine, Path(root)) as store:
        for batch in range(batches):  # several parts per day, as repeated ingests make
            store.add("src-a" if batch % 2 else "src-b", rows[batch::batches])
        asked = [
            Query(p, T0 + timedelta(minutes=m), port, timedelta(minutes=skew))
            for p, m, skew, port in probes
        ]
        answers = store.batch_lookup(asked)
        for query, spec, answer in zip(asked, probes, answers, strict=True):
            assert {m.interval.session_id for m in answer} == _oracle(specs, spec)
            if query.skew == timedelta(0):
                # An exact instant falls in exactly one piece of each interval.
                assert len(answer) == len({m.interval.session_id for m in answer})
            one = store.lookup(query.address, query.at, port=query.port, skew=query.skew)
            assert one == answer


def test_address_key_maps_ipv4_into_its_own_block() -> None:
    assert address_key("192.0.2.1") == (0, 0xFFFF_C000_0201, 128)
    assert address_key("2001:db8::/32") == (0x2001_0DB8_0000_0000, 0, 32)
