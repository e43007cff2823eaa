"""The ClickHouse log store on chDB: the same answers as the embedded store, bound parameters,
primary-key lookups, retention by partition and purge by mutation, and attribution on top.

The behaviours both stores share run in test_store.py on both backends. What runs here on
chDB is the statement text and parameter binding a server gets through clickhouse-connect;
a real server, and the cluster (ReplicatedMergeTree + Distributed) DDL, are not exercised.
"""

from __future__ import annotations

import ipaddress
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
    Query,
    StoredInterval,
    from_interval,
    open_store,
)
from cpniguard.connectivity.store.clickhouse import ClickHouseLogStore
from cpniguard.connectivity.store.clickhouse_client import ConnectExecutor, parse_url
from cpniguard.connectivity.store.clickhouse_sql import Statements
from tests.connectivity.logstores import fresh_store

# Attribution end to end over chDB: these tests run again here with this module's `store`.
from tests.connectivity.test_attribution import (  # noqa: F401
    test_address_change_only_matters_near_the_change,
    test_cgnat_with_port_follows_both_hops,
    test_cgnat_without_port_names_nobody,
    test_flagged_interval_is_ambiguous,
    test_handover_within_skew_lists_both_sides,
    test_ipv6_via_delegated_prefix,
    test_naive_instant_is_refused,
    test_nobody_is_no_match,
    test_one_clean_holder_is_a_match,
    test_open_interval_past_last_seen_is_ambiguous,
)

T0 = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture
def store(chdb_engine: ConnectExecutor, tmp_path: Path) -> Iterator[ClickHouseLogStore]:
    with fresh_store("chdb", chdb_engine, tmp_path) as made:
        assert isinstance(made, ClickHouseLogStore)
        yield made


def row(network: str, start: datetime, end: datetime | None, sid: str, *,
        ports: tuple[int, int] | None = None, last_seen: datetime | None = None,
        username: str = "", line: int = 7) -> StoredInterval:
    return from_interval(Interval(
        address=ipaddress.ip_network(network), start=start, end=end, source="radius",
        evidence=(Evidence("radius/detail-20240301", line, "ab" * 32),), session_id=sid,
        last_seen=last_seen, username=username, flags=frozenset({Flag.NO_START}),
        port_first=None if ports is None else ports[0],
        port_last=None if ports is None else ports[1]))


# --- the same answers as the embedded store ---------------------------------------------------

# Some networks share their first address, so rows tie on (hi, lo) and differ by prefix length.
NETWORKS = ["192.0.2.1/32", "192.0.2.2/32", "100.64.0.5/32", "2001:db8:1200::/56",
            "2001:db8:1200::/48", "2001:db8:1200::/64", "2001:db8:1200:7::/64",
            "2001:db8:1200:7::1/128", "2001:db8:1300::/48"]
PROBES = ["192.0.2.1", "192.0.2.2", "100.64.0.5", "203.0.113.5", "2001:db8:1200::9",
          "2001:db8:1200:7::1",
          "2001:db8:1200:7::2", "2001:db8:1200:ff::1", "2001:db8:1300:1::1", "2001:db8:9::1"]
PORT_BLOCKS = [(1024, 2047), (2048, 3071), (0, 65535)]
NEAR_MIDNIGHT = st.integers(0, 3).map(lambda d: d * 1440) | st.integers(0, 3 * 1440)
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)

spec = st.tuples(
    st.one_of(st.sampled_from(NETWORKS).map(lambda n: (n, None)),
              st.sampled_from(PORT_BLOCKS).map(lambda p: ("203.0.113.5/32", p))),
    NEAR_MIDNIGHT.map(lambda m: m - 30), st.integers(1, 2 * 1440),
    st.booleans(), st.one_of(st.none(), st.integers(0, 2 * 1440)), text,
    st.integers(0, 2),
)
query = st.tuples(st.sampled_from(PROBES), NEAR_MIDNIGHT,
                  st.sampled_from([timedelta(0), timedelta(seconds=1), timedelta(minutes=90),
                                   timedelta(days=1, minutes=1)]),
                  st.one_of(st.none(), st.sampled_from([80, 1024, 2047, 2048, 5000])))


@settings(max_examples=25, deadline=None)
@given(st.lists(spec, max_size=30), st.lists(query, min_size=1, max_size=15), st.data())
def test_same_answers_as_the_embedded_store(
    chdb_engine: ConnectExecutor, specs: list[tuple], asked: list[tuple], data: st.DataObject,
) -> None:
    rows = []
    for number, ((network, ports), start, length, is_open, seen, name, _) in enumerate(specs):
        begin = T0 + timedelta(minutes=start)
        rows.append((specs[number][-1], row(
            network, begin, None if is_open else begin + timedelta(minutes=length),
            str(number), ports=ports, username=name,
            last_seen=begin + timedelta(minutes=seen) if is_open and seen is not None else None)))
    queries = [Query(a, T0 + timedelta(minutes=m), port, skew) for a, m, skew, port in asked]
    with tempfile.TemporaryDirectory() as root, \
            fresh_store("chdb", chdb_engine, Path(root)) as clickhouse:
        embedded = EmbeddedLogStore(Path(root) / "embedded")
        for batch in range(3):  # several parts per (source, day), two sources
            chosen = [r for b, r in rows if b == batch]
            for store in (embedded, clickhouse):
                store.add("cgnat" if batch == 1 else "nas1", chosen)
        expected = embedded.batch_lookup(queries)
        assert clickhouse.batch_lookup(queries) == expected
        # One query takes its own statement; a few of them suffice next to test_store's oracle.
        assert [clickhouse.lookup(q.address, q.at, port=q.port, skew=q.skew)
                for q in queries[:4]] == expected[:4]

        def places(store: LogStore) -> list[tuple[str, str, int, int]]:
            return [(p.source, p.day, p.part, p.rows) for p in store.partitions()]

        assert places(clickhouse) == places(embedded)
        if places(embedded):
            source, day, part, _ = data.draw(st.sampled_from(places(embedded)))
            whole = data.draw(st.booleans())
            for store in (embedded, clickhouse):
                store.drop_partition(source, day, None if whole else part)
            assert places(clickhouse) == places(embedded)
            assert clickhouse.batch_lookup(queries) == embedded.batch_lookup(queries)
        if places(embedded):
            source, day, _, _ = data.draw(st.sampled_from(places(embedded)))
            modulus = data.draw(st.integers(1, 3))

            def keep(interval: StoredInterval) -> bool:
                return int(interval.session_id) % modulus != 0

            assert clickhouse.purge_day(source, day, keep) == embedded.purge_day(
                source, day, keep)
            assert places(clickhouse) == places(embedded)
            assert clickhouse.batch_lookup(queries) == embedded.batch_lookup(queries)


def test_rows_are_numbered_as_the_embedded_store_numbers_them(
        store: ClickHouseLogStore, tmp_path: Path) -> None:
    # Same first address and start: only the prefix length orders these rows within the part.
    rows = [row("2001:db8:1200::/48", T0, T0 + timedelta(hours=5), "48"),
            row("2001:db8:1200::/56", T0, T0 + timedelta(hours=1), "56"),
            row("2001:db8:1200::/56", T0, T0 + timedelta(hours=1), "56 again")]
    embedded = EmbeddedLogStore(tmp_path / "embedded")
    for target in (embedded, store):
        target.add("bng", rows[::-1])
    asked = [Query("2001:db8:1200::9", T0 + timedelta(minutes=5))]
    answer = store.batch_lookup(asked)
    assert [(m.interval.session_id, m.row) for m in answer[0]] == [
        ("48", 0), ("56 again", 1), ("56", 2)]
    assert answer == embedded.batch_lookup(asked)


# --- the engine is used the way it is meant -------------------------------------------------

def test_point_lookup_reads_by_primary_key(store: ClickHouseLogStore) -> None:
    base = int(ipaddress.ip_address("198.18.0.0"))
    store.add("nas1", [row(f"{ipaddress.ip_address(base + n)}/32", T0, T0 + timedelta(hours=1),
                           str(n)) for n in range(30_000)])
    address = ("nas1", T0.date(), 0, 0xFFFF_C612_1234, 128)  # 198.18.18.52
    many = [(n, *address, 1, 1, -2) for n in range(3)]
    for statement, params in ((store.sql.lookup_one(), {"keys": [address], "low": 1,
                                                         "high": 1, "port": -2}),
                              (store.sql.lookup_many(), {"keys": many})):
        plan = store.executor.query("EXPLAIN indexes = 1 " + statement, params)
        text = "\n".join(str(line) for line in plan.column(0).to_pylist())
        key = text[text.index("PrimaryKey"):]
        assert "(hi, lo, plen) in 1-element set" in key
        selected, total = key[key.index("Granules: ") + 10:].split()[0].split("/")
        assert int(selected) == 1 < int(total)
    assert [m.interval.session_id for m in store.lookup("198.18.18.52", T0)] == ["4660"]


def test_values_are_bound_never_spliced(store: ClickHouseLogStore) -> None:
    hostile = "nas1' OR '1'='1"
    store.add("nas1", [row("192.0.2.1/32", T0, T0 + timedelta(hours=1), "s",
                           username="o'brien\\\n; DROP TABLE x")])
    assert store.partitions(hostile) == []
    [match] = store.lookup("192.0.2.1", T0)
    assert match.interval.username == "o'brien\\\n; DROP TABLE x"
    with pytest.raises(ValueError, match="source"):
        store.drop_partition(hostile, "2024-03-01")
    with pytest.raises(ValueError, match="identifier"):
        Statements("cpniguard", "intervals`; DROP DATABASE cpniguard; --")
    with pytest.raises(ValueError, match="Invalid isoformat"):
        store.purge_day("nas1", "2024-03-01' OR 1", lambda r: True)


def test_days_outside_the_date_type_are_refused(store: ClickHouseLogStore) -> None:
    before_epoch = datetime(1969, 12, 31, 23, tzinfo=UTC)
    with pytest.raises(ValueError, match="cannot be stored"):
        store.add("nas1", [row("192.0.2.1/32", before_epoch, before_epoch + timedelta(hours=2),
                               "s")])
    assert store.partitions() == []
    store.add("nas1", [row("192.0.2.1/32", datetime(1970, 1, 1, tzinfo=UTC),
                           datetime(1970, 1, 1, 1, tzinfo=UTC), "epoch")])
    assert store.lookup("192.0.2.1", before_epoch) == []
    assert len(store.lookup("192.0.2.1", before_epoch, skew=timedelta(hours=1, seconds=1))) == 1


def test_ddl_is_idempotent(store: ClickHouseLogStore) -> None:
    store.add("nas1", [row("192.0.2.1/32", T0, T0 + timedelta(hours=1), "kept")])
    again = ClickHouseLogStore(store.executor, database=store.sql.database)
    assert [m.interval.session_id for m in again.lookup("192.0.2.1", T0)] == ["kept"]


def _stored(store: ClickHouseLogStore) -> int:
    """Rows in the active data parts on disk: a masked (lightweight) delete would still count."""
    counted = store.executor.query(
        "SELECT sum(rows) AS n FROM system.parts WHERE database = {db:String}"
        " AND table = {table:String} AND active",
        {"db": store.sql.database, "table": store.sql.table})
    return int(counted.column("n")[0].as_py())


def test_purge_day_rewrites_parts_as_the_embedded_store_does(
        store: ClickHouseLogStore, tmp_path: Path) -> None:
    embedded = EmbeddedLogStore(tmp_path / "embedded")
    hour = timedelta(hours=1)
    for target in (embedded, store):
        target.add("nas1", [row("192.0.2.1/32", T0, T0 + hour, "gone"),      # part 1: some go
                            row("192.0.2.2/32", T0, T0 + hour, "held"),
                            row("192.0.2.3/32", T0, T0 + hour, "held too")])
        target.add("nas1", [row("192.0.2.1/32", T0, T0 + hour, "gone too")])  # part 2: all go
        target.add("nas1", [row("192.0.2.4/32", T0, T0 + hour, "held 3")])  # part 3: all stay
    asked = [Query(f"192.0.2.{n}", T0) for n in range(1, 5)]

    def keep(interval: StoredInterval) -> bool:
        return interval.session_id.startswith("held")

    assert store.purge_day("nas1", "2024-03-01", keep) == (2, 3)
    assert embedded.purge_day("nas1", "2024-03-01", keep) == (2, 3)
    after = store.batch_lookup(asked)
    assert after == embedded.batch_lookup(asked)
    assert [[(m.interval.session_id, m.part, m.row) for m in found] for found in after] == [
        [], [("held", 4, 0)], [("held too", 4, 1)], [("held 3", 3, 0)]]
    assert _stored(store) == 3  # rewritten out of the data parts, not masked
    assert store.purge_day("nas1", "2024-03-02", keep) == (0, 0)


def test_drop_one_part_or_a_whole_day(store: ClickHouseLogStore) -> None:
    store.add("nas1", [row("192.0.2.1/32", T0, T0 + timedelta(hours=30), "one")])
    store.add("nas1", [row("192.0.2.1/32", T0, T0 + timedelta(hours=1), "two")])
    assert store.drop_partition("nas1", "2024-03-01", 7) == []
    assert store.drop_partition("nas1", "2024-03-01", 2) == [Path("nas1/2024-03-01/part-000002")]
    assert [m.interval.session_id for m in store.lookup("192.0.2.1", T0)] == ["one"]
    assert [(p.day, p.part) for p in store.partitions()] == [("2024-03-01", 1), ("2024-03-02", 1)]
    assert store.drop_partition("nas1", "2024-03-02") == [Path("nas1/2024-03-02/part-000001")]
    assert _stored(store) == 1


def test_cluster_ddl_shards_replicated_tables_behind_distributed_ones() -> None:
    # Text only: no cluster runs in CI. The single-server DDL is what every other test runs.
    create = Statements("cpniguard", "intervals", cluster="logs").create()
    assert all(" ON CLUSTER `logs`" in statement for statement in create)
    assert "ENGINE = ReplicatedMergeTree PARTITION BY (source, day)" in create[1]
    assert "ReplicatedReplacingMergeTree" in create[2]
    assert "Distributed(`logs`, `cpniguard`, `intervals_local`, cityHash64(hi, lo))" in create[3]
    drops = Statements("cpniguard", "intervals", cluster="logs").drop_day()
    assert drops[0].startswith("ALTER TABLE `cpniguard`.`intervals_local` ON CLUSTER `logs`")


def test_store_urls(monkeypatch: pytest.MonkeyPatch, chdb_engine: ConnectExecutor,
                    tmp_path: Path) -> None:
    monkeypatch.setenv("CPNIGUARD_CLICKHOUSE_PASSWORD", "from-env")
    server = parse_url("clickhouses://noc@logs.example.net:8443/isp?table=leases&cluster=c1")
    assert (server.engine, server.host, server.port, server.secure, server.username) == (
        "server", "logs.example.net", 8443, True, "noc")
    assert (server.database, server.table, server.cluster, server.password) == (
        "isp", "leases", "c1", "from-env")
    assert "from-env" not in repr(server)
    assert parse_url("clickhouse://h/").database == "cpniguard"
    for bad in ("clickhouse:///nohost", "chdb://relative/path", "http://h/", "chdb:///x?tabel=t"):
        with pytest.raises(ValueError, match=r"URL|chDB|option"):
            parse_url(bad)
    assert isinstance(open_store(tmp_path / "embedded"), EmbeddedLogStore)
    # chDB keeps one engine per process: the URL names the path the fixture's engine uses.
    opened = open_store(f"{chdb_engine.location}?database=url_test")
    assert isinstance(opened, ClickHouseLogStore)
    assert opened.sql.database == "url_test"
    opened.executor.command("DROP DATABASE url_test SYNC")
