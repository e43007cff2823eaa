"""`ingest_file` into the ClickHouse store (chDB in-process): every format's sample gives the
same answers as the embedded store, the same file twice adds nothing, an interrupted attempt is
undone exactly, and the store recorded for a file never holds a password."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cpniguard.accounts.models import StaffUser
from cpniguard.cli import main
from cpniguard.connectivity import ingest
from cpniguard.connectivity.ingest import IngestResult, StoreMismatch, ingest_file
from cpniguard.connectivity.models import IngestedFile, QuarantinedLine
from cpniguard.connectivity.store import EmbeddedLogStore, LogStore, Query
from cpniguard.connectivity.store.clickhouse import ClickHouseLogStore, display_url
from cpniguard.connectivity.store.clickhouse_client import ConnectExecutor, parse_url
from cpniguard.connectivity.store.schema import from_us
from cpniguard.connectivity.store_config import display_name
from tests.connectivity.logstores import fresh_store
from tests.connectivity.test_store_clickhouse import PROBES

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "connectivity"
V3 = FIXTURES / "synthetic-v3-detail.txt"
DHCPD6 = FIXTURES / "dhcpd6-4.3.3.leases"
JUNIPER = FIXTURES / "synthetic-juniper-pba.log"
# The skews the store equality tests ask with (test_store_clickhouse.query).
SKEWS = (timedelta(0), timedelta(seconds=1), timedelta(minutes=90), timedelta(days=1, minutes=1))
# format -> (sample, ingest options); the yearless syslog formats get a fixed year.
SAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "radius-detail": ("synthetic-v4-detail.txt", {}),
    "radacct-csv": ("synthetic-radacct.csv", {}),
    "dhcpd-leases": ("dhcpd6-4.3.3.leases", {}),
    "kea-lease4": ("lease4_dump_test.reference.csv", {}),
    "kea-lease6": ("lease6_dump_test.reference.csv", {}),
    "kea-legal": ("unittest-entries-dhcp6.txt", {}),
    "juniper-nat": ("synthetic-juniper-pba.log", {"year": 2024}),
    "cisco-nat": ("synthetic-iosxr-cgn.log", {}),
    "asa-nat": ("synthetic-asa-nat.log", {"year": 2024}),
    "conntrack": ("synthetic-conntrack.log", {"device": "cgn1.example.net"}),
    "detnat": ("synthetic-detnat.toml", {}),
}


@pytest.fixture(autouse=True)
def _noc_operator(make_staff: Callable[..., StaffUser], monkeypatch: pytest.MonkeyPatch) -> None:
    make_staff("noc", os_username="nocop")
    monkeypatch.setenv("LOGNAME", "nocop")
    monkeypatch.setenv("USER", "nocop")


@pytest.fixture
def clickhouse(chdb_engine: ConnectExecutor, tmp_path: Path) -> Iterator[ClickHouseLogStore]:
    with fresh_store("chdb", chdb_engine, tmp_path) as made:
        assert isinstance(made, ClickHouseLogStore)
        yield made


def _sample(fmt: str, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    name, options = SAMPLES[fmt]
    path = FIXTURES / name
    if fmt == "kea-legal":
        # The Kea entries carry no timestamp (SOURCES.md): the file writer's prefix is added,
        # as test_kea_legal does.
        path = tmp_path / "kea-legal6.20240301.txt"
        path.write_text("".join(f"2024-03-01 10:00:00 +0100 {line}\n" for line in
                                (FIXTURES / name).read_text().splitlines()))
    return path, options


def _questions(embedded: EmbeddedLogStore) -> tuple[list[Query], int]:
    """Questions about the stored rows, and how many of them (the first) must find a row.

    A sample of rows (a few from each of at most a dozen parts spread over the store: a
    mapping valid for a year is hundreds of day parts) is asked at its start (must match),
    middle and end, with the port inside and just outside its block, with each skew; then the
    fixed probes of the store equality tests at the same instants.
    """
    from cpniguard.connectivity.store.index import PartitionIndex

    infos = embedded.partitions()
    sampled = [row for info in infos[::max(1, len(infos) // 12)]
               for row in PartitionIndex(info.manifest).read_rows(
                   list(range(min(info.rows, 5)))).values()]
    must = [row for row in sampled if row.end > row.start]
    hits = [Query(str(ipaddress.ip_network(row.address)[0]), from_us(row.start),
                  None if row.port_first < 0 else row.port_first) for row in must]
    asked: list[Query] = []
    for row in sampled:
        network = ipaddress.ip_network(row.address)
        inside = network[min(9, network.num_addresses - 1)]
        # Inside the block, and just outside it (above, or below a block ending at 65535).
        outside = row.port_last + 1 if row.port_last < 65535 else row.port_first - 1
        ports = [None] if row.port_first < 0 else [None, row.port_first, max(outside, 0)]
        end = min(max(row.end, row.start + 1), row.start + 10**11)  # open rows: a day on
        for number, at in enumerate((row.start, (row.start + end) // 2, end - 1)):
            for port in ports:
                asked.append(Query(str(inside), from_us(at), port,
                                   SKEWS[(number + len(asked)) % len(SKEWS)]))
    when = [q.at for q in hits[:3]]
    asked += [Query(probe, at, None, skew) for probe in PROBES for at in when for skew in SKEWS]
    return hits + asked, len(hits)


def _places(store: LogStore) -> list[tuple[str, str, int, int]]:
    return [(p.source, p.day, p.part, p.rows) for p in store.partitions()]


def _same(left: IngestResult, right: IngestResult) -> None:
    assert (left.lines, left.events, left.intervals, left.quarantined) == (
        right.lines, right.events, right.intervals, right.quarantined)


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_every_format_answers_as_the_embedded_store(
        fmt: str, tmp_path: Path, clickhouse: ClickHouseLogStore) -> None:
    path, options = _sample(fmt, tmp_path)
    embedded = EmbeddedLogStore(tmp_path / "embedded")
    first = ingest_file(path, fmt, "America/Chicago", embedded, **options)
    assert first.intervals > 0, f"{fmt}: the sample gave no intervals"
    IngestedFile.objects.all().delete()  # the record of the first store; the file goes again
    second = ingest_file(path, fmt, "America/Chicago", clickhouse, **options)
    _same(first, second)
    assert list(second.partitions) == [p.removesuffix(".manifest.json")
                                       for p in first.partitions]
    assert _places(clickhouse) == _places(embedded)
    questions, hits = _questions(embedded)
    expected = embedded.batch_lookup(questions)
    assert hits
    assert all(expected[:hits])
    assert clickhouse.batch_lookup(questions) == expected
    assert [clickhouse.lookup(q.address, q.at, port=q.port, skew=q.skew)
            for q in questions[:3]] == expected[:3]


def test_the_same_file_twice_adds_nothing(tmp_path: Path,
                                          clickhouse: ClickHouseLogStore) -> None:
    first = ingest_file(V3, "radius-detail", "UTC", clickhouse)
    places = _places(clickhouse)
    again = ingest_file(V3, "radius-detail", "UTC", clickhouse)
    assert not first.already_ingested
    assert again.already_ingested
    assert again.intervals == 0
    assert _places(clickhouse) == places
    assert sum(rows for *_, rows in places) == first.intervals
    record = IngestedFile.objects.get()
    assert record.store == clickhouse.name
    assert record.partitions == [f"radius-detail/{day}/part-{part:06d}"
                                 for _, day, part, _ in places]


def _crash(*_: object, **__: object) -> None:
    raise RuntimeError("killed before the ingest was recorded complete")


@pytest.mark.parametrize(("path", "fmt"), [(V3, "radius-detail"), (JUNIPER, "juniper-nat"),
                                           (FIXTURES / "synthetic-radacct.csv", "radacct-csv")])
def test_an_interrupted_attempt_leaves_exactly_one_copy(
        tmp_path: Path, clickhouse: ClickHouseLogStore, monkeypatch: pytest.MonkeyPatch,
        path: Path, fmt: str) -> None:
    clean = EmbeddedLogStore(tmp_path / "clean")
    reference = ingest_file(path, fmt, "UTC", clean, year=2024)
    IngestedFile.objects.all().delete()
    other = ingest_file(DHCPD6, "dhcpd-leases", "UTC", clickhouse)  # must be left alone
    with monkeypatch.context() as patch:
        patch.setattr(ingest, "_complete", _crash)
        with pytest.raises(RuntimeError):
            ingest_file(path, fmt, "UTC", clickhouse, year=2024)
    record = IngestedFile.objects.get(format=fmt)
    assert record.status == IngestedFile.Status.STARTED
    written = [p for p in _places(clickhouse) if p[0] == fmt]
    assert written == [p for p in _places(clean) if p[0] == fmt]  # visible, unfinished
    assert clickhouse.parts_from_file(fmt, record.days, record.sha256) == [
        (day, part) for _, day, part, _ in written]
    redo = ingest_file(path, fmt, "UTC", clickhouse, year=2024)
    _same(redo, reference)
    # One copy: the interrupted parts went, the re-run wrote the next part numbers.
    assert [(s, d, r) for s, d, _, r in _places(clickhouse) if s == fmt] == [
        (s, d, r) for s, d, _, r in _places(clean)]
    questions, _ = _questions(clean)
    assert [[(m.interval, m.row) for m in found] for found in
            clickhouse.batch_lookup(questions)] == [
        [(m.interval, m.row) for m in found] for found in clean.batch_lookup(questions)]
    assert IngestedFile.objects.get(format=fmt).status == IngestedFile.Status.COMPLETE
    assert QuarantinedLine.objects.filter(file__format=fmt).count() == reference.quarantined
    assert sum(r for s, *_, r in _places(clickhouse) if s == "dhcpd-leases") == other.intervals


class CutAfter:
    """The chDB engine, killed at insert number `cut` (counted from 1): a rows insert keeps
    only its first half, as an insert cut mid-stream keeps its first blocks."""

    def __init__(self, engine: ConnectExecutor, cut: int) -> None:
        self.engine, self.cut, self.inserts = engine, cut, 0
        self.location = engine.location

    def command(self, *args: Any, **kwargs: Any) -> None:
        self.engine.command(*args, **kwargs)

    def query(self, *args: Any, **kwargs: Any) -> Any:
        return self.engine.query(*args, **kwargs)

    def insert(self, database: str, table: str, data: Any, settings: Any = None) -> None:
        self.inserts += 1
        if self.inserts == self.cut:
            if not table.endswith("_prefixes") and len(data) > 1:
                self.engine.insert(database, table, data.slice(0, len(data) // 2), settings)
            raise RuntimeError(f"killed at insert {self.cut}")
        self.engine.insert(database, table, data, settings)

    def close(self) -> None:
        pass


def test_a_write_cut_at_any_insert_is_undone(tmp_path: Path, chdb_engine: ConnectExecutor) -> None:
    """Three days, two inserts each (prefix lengths, rows): cut at each, then re-run."""
    path, fmt = FIXTURES / "lease6_dump_test.reference.csv", "kea-lease6"
    clean = EmbeddedLogStore(tmp_path / "clean")
    reference = ingest_file(path, fmt, "UTC", clean)
    assert len({p.day for p in clean.partitions()}) == 3
    questions, _ = _questions(clean)
    for cut in range(1, 7):
        IngestedFile.objects.all().delete()
        with fresh_store("chdb", chdb_engine, tmp_path) as made:
            assert isinstance(made, ClickHouseLogStore)
            broken = ClickHouseLogStore(CutAfter(chdb_engine, cut), database=made.sql.database)
            with pytest.raises(RuntimeError, match="killed"):
                ingest_file(path, fmt, "UTC", broken)
            assert sum(r for *_, r in _places(made)) < reference.intervals
            redo = ingest_file(path, fmt, "UTC", made)
            _same(redo, reference)
            assert [(s, d, r) for s, d, _, r in _places(made)] == [
                (s, d, r) for s, d, _, r in _places(clean)], f"cut at insert {cut}"
            assert [[(m.interval, m.row) for m in found] for found in
                    made.batch_lookup(questions)] == [
                [(m.interval, m.row) for m in found] for found in clean.batch_lookup(questions)]


def test_the_recorded_store_never_holds_a_password(
        tmp_path: Path, chdb_engine: ConnectExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPNIGUARD_CLICKHOUSE_PASSWORD", "env-secret")
    for url in ("clickhouse://noc:url-secret@logs.example.net:9440/isp?table=leases",
                "clickhouses://noc@[2001:db8::5]/isp?cluster=logs"):
        shown = display_name(url)
        assert "secret" not in shown
        assert parse_url(shown).username == "noc"  # the name is itself a usable URL
    assert display_name("clickhouse://noc:url-secret@logs.example.net:9440/isp?table=leases") \
        == "clickhouse://noc@logs.example.net:9440/isp?table=leases"
    # A store opened from a URL with a password records only its display name.
    url = parse_url("clickhouse://noc:url-secret@logs.example.net/isp")
    with fresh_store("chdb", chdb_engine, tmp_path) as made:
        assert isinstance(made, ClickHouseLogStore)
        store = ClickHouseLogStore(chdb_engine, database=made.sql.database,
                                   name=display_url(url))
        ingest_file(V3, "radius-detail", "UTC", store)
    record = IngestedFile.objects.get()
    assert record.store == "clickhouse://noc@logs.example.net:8123/isp?table=intervals"
    assert "secret" not in json.dumps([record.store, record.partitions, record.path])


def test_cli_ingests_into_chdb_and_refuses_another_store_for_the_same_file(
        tmp_path: Path, chdb_engine: ConnectExecutor, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"{chdb_engine.location}?database=cli_{tmp_path.name[-12:].replace('-', '_')}"
    try:
        code = main(["logs", "ingest", "--format", "radius-detail", "--store", url, "--json",
                     str(V3)])
        out, err = capsys.readouterr()
        assert code == 0, err
        report = json.loads(out)
        assert report["store"] == display_name(url)
        [result] = report["files"]
        assert result["intervals"] > 0
        assert not result["already_ingested"]
        assert IngestedFile.objects.get().store == display_name(url)
        code = main(["logs", "ingest", "--format", "radius-detail", "--store",
                     str(tmp_path / "embedded"), str(V3)])
        _, err = capsys.readouterr()
        assert code == 2
        assert f"into the log store {display_name(url)}, not " in err
        assert not (tmp_path / "embedded").exists()
        with pytest.raises(StoreMismatch):
            ingest_file(V3, "radius-detail", "UTC", tmp_path / "embedded")
        code = main(["logs", "ingest", "--format", "radius-detail", "--store", url, str(V3)])
        assert code == 0
        assert "already ingested" in capsys.readouterr().out
    finally:
        chdb_engine.command(f"DROP DATABASE IF EXISTS {parse_url(url).database} SYNC")
