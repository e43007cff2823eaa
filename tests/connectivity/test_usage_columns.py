"""Disconnect cause and octet counters: parsed, shared out per interval, stored, read back.

The store's `terminate_cause`, `octets_in` and `octets_out` come from the sample detail files
and radacct exports, the same through the per-line and the column radacct paths, through the
embedded store and the ClickHouse one (chDB), and read as null from partitions written before
the columns existed.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from ipaddress import ip_network
from pathlib import Path

import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from cpniguard.accounts.models import StaffUser
from cpniguard.connectivity import bulk_radacct
from cpniguard.connectivity.events import Event, EventKind, Evidence, Source
from cpniguard.connectivity.generator import generate
from cpniguard.connectivity.ingest import ingest_file
from cpniguard.connectivity.intervals import Interval
from cpniguard.connectivity.intervals_radius import radius_intervals
from cpniguard.connectivity.models import IngestedFile
from cpniguard.connectivity.parsers import radius_detail
from cpniguard.connectivity.store import EmbeddedLogStore, StoredInterval, from_interval
from cpniguard.connectivity.store.clickhouse import ClickHouseLogStore
from cpniguard.connectivity.store.clickhouse_client import ConnectExecutor
from cpniguard.connectivity.store.clickhouse_sql import ADDED_COLUMNS, Statements, identifier
from cpniguard.connectivity.store.schema import END_COLUMNS, to_table, to_us
from cpniguard.quality.scan import ScanRange, scan
from tests.connectivity.test_bulk_radacct import _stored, both_ways

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "connectivity"
GIGA = 2**32
STALE = timedelta(hours=2)


@pytest.fixture(autouse=True)
def _operator(make_staff: Callable[..., StaffUser], monkeypatch: pytest.MonkeyPatch) -> None:
    make_staff("noc", os_username="nocop")
    monkeypatch.setenv("LOGNAME", "nocop")
    monkeypatch.setenv("USER", "nocop")


def detail_intervals(name: str) -> list[Interval]:
    path = FIXTURES / name
    events = [e for e in radius_detail.parse(path.read_text().splitlines(True),
                                             Source(str(path), "America/Chicago"))
              if isinstance(e, Event)]
    return list(radius_intervals(events, stale_after=STALE, skipped=[]))


def test_a_detail_stop_gives_its_cause_and_the_last_interims_counters() -> None:
    # The Stop of 0000A1B2 carries no counters: the Interim's (with Gigawords) are the last.
    session = [i for i in detail_intervals("synthetic-v3-detail.txt")
               if i.session_id == "3c1f0d6e9a2b4c5d"]
    by_address = {str(i.address): i for i in session}
    assert set(by_address) == {"198.51.100.23/32", "2001:db8:100:1::/64", "2001:db8:200::/56"}
    assert {i.terminate_cause for i in session} == {"User-Request"}
    ipv4 = by_address["198.51.100.23/32"]
    assert (ipv4.octets_in, ipv4.octets_out) == (2 * GIGA + 1000, GIGA - 1)
    # The session's counters count once: on its first address only.
    assert all(i.octets_in is None and i.octets_out is None
               for i in session if i is not ipv4)


def test_a_v4_enum_cause_is_stored_by_its_name() -> None:
    stops = [i for i in detail_intervals("synthetic-v4-detail.txt") if i.end is not None]
    assert [i.terminate_cause for i in stops] == ["Lost-Carrier"]


def test_intervals_not_ended_by_a_stop_have_no_cause() -> None:
    others = [i for i in detail_intervals("synthetic-v3-detail.txt")
              if i.session_id != "3c1f0d6e9a2b4c5d"]
    assert others
    assert all(i.terminate_cause is None for i in others)


def _event(kind: EventKind, minute: int, address: str, line: int, octets: tuple[int, int] | None,
           cause: str = "") -> Event:
    return Event(kind=kind, at=datetime(2025, 3, 4, 10, tzinfo=UTC) + timedelta(minutes=minute),
                 evidence=Evidence("detail", line), address=ip_network(address),
                 session_id="S1", username="alice@example.net", device="192.0.2.1",
                 terminate_cause=cause, octets_in=None if octets is None else octets[0],
                 octets_out=None if octets is None else octets[1])


def test_on_an_address_change_each_interval_keeps_the_octets_counted_on_it() -> None:
    events = [
        _event(EventKind.SESSION_START, 0, "198.51.100.1/32", 1, None),
        _event(EventKind.SESSION_INTERIM, 10, "198.51.100.1/32", 2, (100, 200)),
        _event(EventKind.SESSION_INTERIM, 20, "198.51.100.2/32", 3, (300, 500)),
        _event(EventKind.SESSION_INTERIM, 30, "198.51.100.2/32", 4, (600, 900)),
        _event(EventKind.SESSION_STOP, 40, "198.51.100.2/32", 5, (1000, 2000), "Lost-Carrier"),
    ]
    first, second = sorted(radius_intervals(events, stale_after=STALE), key=lambda i: i.start)
    # Counted up to the Interim that reported the change: the first address's.
    assert (str(first.address), first.octets_in, first.octets_out) == (
        "198.51.100.1/32", 300, 500)
    assert first.terminate_cause is None  # ended by the address change, not by the Stop
    assert (second.octets_in, second.octets_out, second.terminate_cause) == (
        700, 1500, "Lost-Carrier")
    # Summed over the session: the Stop's totals, once.
    assert (first.octets_in or 0) + (second.octets_in or 0) == 1000


def test_a_session_without_a_stop_keeps_its_last_interims_counters() -> None:
    events = [_event(EventKind.SESSION_START, 0, "198.51.100.1/32", 1, None),
              _event(EventKind.SESSION_INTERIM, 10, "198.51.100.1/32", 2, (10, 20)),
              _event(EventKind.SESSION_INTERIM, 20, "198.51.100.1/32", 3, (30, 40))]
    [only] = radius_intervals(events, stale_after=STALE)
    assert (only.end, only.octets_in, only.octets_out, only.terminate_cause) == (
        None, 30, 40, None)


def _stored_row(start: datetime, end: datetime | None, *, host: str = "198.51.100.9",
                cause: str | None = "Port-Error", octets: tuple[int, int] = (5, 7)
                ) -> StoredInterval:
    interval = Interval(address=ip_network(f"{host}/32"), start=start, end=end,
                        source="radius", evidence=(Evidence("detail", 1),),
                        last_seen=end or start, username="alice@example.net",
                        device="192.0.2.1", session_id=f"S-{host}", terminate_cause=cause,
                        octets_in=octets[0], octets_out=octets[1])
    return from_interval(interval)


def test_a_day_split_keeps_the_end_facts_on_the_last_piece_and_scan_counts_them_once(
        tmp_path: Path) -> None:
    store = EmbeddedLogStore(tmp_path / "store")
    start, end = datetime(2025, 3, 4, 22, tzinfo=UTC), datetime(2025, 3, 6, 2, tzinfo=UTC)
    store.add("radius", [_stored_row(start, end)])
    pieces = [m.interval for day in (4, 5, 6) for m in store.lookup(
        "198.51.100.9", datetime(2025, 3, day, 23 if day == 4 else 1, tzinfo=UTC))]
    assert [(p.terminate_cause, p.octets_in) for p in pieces] == [
        (None, None), (None, None), ("Port-Error", 5)]
    whole = scan(tmp_path / "store", ScanRange(to_us(start), to_us(end)))
    assert len(whole) == 1
    assert whole.select(list(END_COLUMNS)).to_pylist() == [
        {"terminate_cause": "Port-Error", "octets_in": 5, "octets_out": 7}]
    # A range that ends before the interval does holds none of its end facts.
    early = scan(tmp_path / "store", ScanRange(to_us(start), to_us(start + timedelta(hours=3))))
    assert early.select(list(END_COLUMNS)).to_pylist() == [
        {"terminate_cause": None, "octets_in": None, "octets_out": None}]


def _make_old(manifest: Path) -> None:
    """Rewrite one partition as a store written before the end columns existed."""
    data = json.loads(manifest.read_text())
    parquet = next(manifest.parent / name for name in data["files"] if name.endswith("parquet"))
    old = pq.read_table(parquet).drop_columns(list(END_COLUMNS))
    assert not set(END_COLUMNS) & set(old.schema.names)
    pq.write_table(old, parquet, compression="zstd", row_group_size=1024)
    import hashlib

    data["files"][parquet.name] = hashlib.sha256(parquet.read_bytes()).hexdigest()
    manifest.write_text(json.dumps(data, indent=1, sort_keys=True))


def test_an_old_layout_partition_reads_as_null_next_to_a_new_one(tmp_path: Path) -> None:
    store = EmbeddedLogStore(tmp_path / "store")
    day = datetime(2025, 3, 4, 10, tzinfo=UTC)
    [old_manifest] = store.add("radius", [_stored_row(day, day + timedelta(hours=1),
                                                      host="198.51.100.10")])
    _make_old(old_manifest)
    store.add("radius", [_stored_row(day, day + timedelta(hours=1), host="198.51.100.11")])
    table = scan(tmp_path / "store", ScanRange(to_us(day), to_us(day + timedelta(hours=2))))
    by_session = {r["session_id"]: r for r in table.to_pylist()}
    assert {k: by_session["S-198.51.100.10"][k] for k in END_COLUMNS} == dict.fromkeys(
        END_COLUMNS)
    assert {k: by_session["S-198.51.100.11"][k] for k in END_COLUMNS} == {
        "terminate_cause": "Port-Error", "octets_in": 5, "octets_out": 7}
    fresh = EmbeddedLogStore(tmp_path / "store")  # no cached index
    [old] = fresh.lookup("198.51.100.10", day + timedelta(minutes=5))
    assert (old.interval.terminate_cause, old.interval.octets_in) == (None, None)
    assert old.interval.username == "alice@example.net"


RADACCT = (
    "radacctid,acctsessionid,acctuniqueid,username,nasipaddress,acctstarttime,acctupdatetime,"
    "acctstoptime,acctinputoctets,acctoutputoctets,callingstationid,acctterminatecause,"
    "framedipaddress,delegatedipv6prefix\n"
    "1,A1,u1,alice@example.net,192.0.2.1,2025-03-04 10:00:00+00,2025-03-04 11:00:00+00,"
    "2025-03-04 12:00:00+00,8589935592,4294967295,02:00:00:00:00:01,Lost-Carrier,198.18.0.1,"
    "2001:db8:1:100::/56\n"
    "2,A2,u2,bob@example.net,192.0.2.1,2025-03-04 23:00:00+00,2025-03-05 00:30:00+00,"
    "2025-03-05 01:00:00+00,10,20,02:00:00:00:00:02,User-Request,198.18.0.2,\n"
    "3,A3,u3,carol@example.net,192.0.2.1,2025-03-04 10:00:00+00,2025-03-04 11:00:00+00,,"
    "30,40,02:00:00:00:00:03,Lost-Carrier,198.18.0.3,\n"
    "4,A4,u4,dave@example.net,192.0.2.1,2025-03-04 10:00:00+00,,2025-03-04 12:00:00+00,"
    ",,02:00:00:00:00:04,,198.18.0.4,\n"
    "5,A5,u5,erin@example.net,192.0.2.1,2025-03-04 10:00:00+00,,2025-03-04 12:00:00+00,"
    "99999999999999999999,7,02:00:00:00:00:05, Port-Error,198.18.0.5,\n"
)


def test_radacct_columns_are_the_same_through_both_paths(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "src" / "radacct.csv"
    source.parent.mkdir()
    source.write_text(RADACCT)
    columns = bulk_radacct.read_columns(source, "0" * 64, "radacct-csv")
    assert columns is not None
    assert columns.fallback.tolist() == [6]  # the 20-digit counter and padded cause
    both_ways(tmp_path, source, monkeypatch)
    stored = _stored(tmp_path / "fast")
    assert stored == _stored(tmp_path / "slow")
    rows = {(r["session_id"], r["plen"]): r for day in stored.values() for r in day}
    alice_v4, alice_v6 = rows[("u1", 128)], rows[("u1", 56)]
    assert (alice_v4["terminate_cause"], alice_v4["octets_in"], alice_v4["octets_out"]) == (
        "Lost-Carrier", 2 * GIGA + 1000, GIGA - 1)
    assert (alice_v6["terminate_cause"], alice_v6["octets_in"]) == ("Lost-Carrier", None)
    bob = [r for day in sorted(stored) for r in stored[day] if r["session_id"] == "u2"]
    assert [(r["terminate_cause"], r["octets_in"]) for r in bob] == [
        (None, None), ("User-Request", 10)]  # the day split: on the piece with the end
    carol = rows[("u3", 128)]
    assert (carol["terminate_cause"], carol["octets_in"]) == (None, 30)  # no stop: no cause
    assert rows[("u4", 128)]["octets_in"] is None
    erin = rows[("u5", 128)]
    assert (erin["terminate_cause"], erin["octets_in"], erin["octets_out"]) == (
        "Port-Error", None, 7)


@pytest.fixture
def chdb(chdb_engine: ConnectExecutor) -> Iterator[tuple[ConnectExecutor, str]]:
    database = f"test_{uuid.uuid4().hex}"
    try:
        yield chdb_engine, database
    finally:
        chdb_engine.command(f"DROP DATABASE IF EXISTS {identifier(database)} SYNC")


def test_clickhouse_stores_and_returns_the_columns_and_adds_them_to_an_old_table(
        chdb: tuple[ConnectExecutor, str]) -> None:
    engine, database = chdb
    sql = Statements(database, "intervals")
    # The table as an earlier release created it: without the added columns.
    for statement in sql.create():
        if "ADD COLUMN" not in statement:
            engine.command(statement)
    for name, _, _ in ADDED_COLUMNS:
        engine.command(f"ALTER TABLE {sql.rows} DROP COLUMN {name}")
    day = datetime(2025, 3, 4, 10, tzinfo=UTC)
    old = _stored_row(day, day + timedelta(hours=1), host="198.51.100.20")
    legacy = ClickHouseLogStore._arrow("radius", date(2025, 3, 4), 1, to_table([old])).drop_columns(
        [name for name, _, _ in ADDED_COLUMNS])
    engine.insert(database, "intervals", legacy)
    store = ClickHouseLogStore(engine, database=database)  # adds the columns
    store.add("radius", [_stored_row(day, day + timedelta(days=1, hours=2),
                                     host="198.51.100.21")])
    [before] = store.lookup("198.51.100.20", day + timedelta(minutes=5))
    assert (before.interval.terminate_cause, before.interval.octets_in) == (None, None)
    [first_day] = store.lookup("198.51.100.21", day + timedelta(minutes=5))
    [last_day] = store.lookup("198.51.100.21", day + timedelta(days=1, hours=1))
    assert (first_day.interval.terminate_cause, first_day.interval.octets_in) == (None, None)
    assert (last_day.interval.terminate_cause, last_day.interval.octets_in,
            last_day.interval.octets_out) == ("Port-Error", 5, 7)


def test_generated_logs_carry_causes_and_counters_into_the_store(tmp_path: Path) -> None:
    logs = generate(tmp_path / "logs", subscribers=12, days=1, start=date(2025, 3, 4),
                    cgnat_ratio=0.0, seed=3, zone="UTC")
    assert logs.lines > 0
    root = tmp_path / "store"
    for path in sorted((tmp_path / "logs").rglob("detail-*")):
        ingest_file(path, "radius-detail", "UTC", root)
    assert IngestedFile.objects.count() > 0
    table = scan(root, ScanRange(to_us(datetime(2025, 3, 3, tzinfo=UTC)),
                                 to_us(datetime(2025, 3, 7, tzinfo=UTC))))
    causes = {c for c in table.column("terminate_cause").to_pylist() if c}
    assert causes
    assert causes <= {"User-Request", "Lost-Carrier", "Idle-Timeout",
                                 "Session-Timeout", "Admin-Reset", "NAS-Reboot", "Port-Error",
                                 "Lost-Service", "NAS-Error", "NAS-Request", "Admin-Reboot"}
    assert sum(v or 0 for v in table.column("octets_out").to_pylist()) > 0
    shutil.rmtree(tmp_path / "logs")
