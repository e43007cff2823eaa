"""The synthetic log generator: real parsers read every line, and the truth is what they say."""

from __future__ import annotations

import csv
import ipaddress
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cpniguard.cli import main
from cpniguard.connectivity.events import Event, Quarantined, Source, open_text
from cpniguard.connectivity.generator import GeneratedSet, generate
from cpniguard.connectivity.ingest import ingest_file
from cpniguard.connectivity.intervals_dhcp import dhcp_intervals
from cpniguard.connectivity.intervals_nat import nat_intervals
from cpniguard.connectivity.intervals_radius import radius_intervals
from cpniguard.connectivity.parsers import dhcpd_leases, juniper_nat, radius_detail

ZONE = "America/Chicago"
START = date(2024, 3, 4)


def _generate(out: Path, seed: int = 7) -> GeneratedSet:
    return generate(out, subscribers=50, days=2, start=START, cgnat_ratio=0.3, seed=seed,
                    zone=ZONE, interim_minutes=60)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GeneratedSet:
    return _generate(tmp_path_factory.mktemp("generated"))


def _parse(path: Path) -> Iterator[Event | Quarantined]:
    source = Source(str(path), ZONE)
    kind = path.parent.parent.name
    if kind == "radacct":
        return radius_detail.parse(open_text(path), source)
    if kind == "dhcpd":
        return dhcpd_leases.parse(open_text(path), source)
    return juniper_nat.parse(open_text(path), source, year=START.year)


def _events(root: Path, pattern: str) -> list[Event]:
    events: list[Event] = []
    for path in sorted(root.glob(pattern)):  # day-stamped names sort in time order
        for item in _parse(path):
            assert isinstance(item, Event), item
            events.append(item)
    return events


def _truth(root: Path, source: str) -> list[dict[str, str]]:
    with (root / "truth.csv").open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["source"] == source]


def _middle(row: dict[str, str], horizon: datetime) -> datetime:
    start = datetime.fromisoformat(row["start_utc"])
    end = datetime.fromisoformat(row["end_utc"]) if row["end_utc"] else horizon
    return start + (end - start) / 2


def _holders(intervals: list[Any], address: str, at: datetime) -> list[Any]:
    network = ipaddress.ip_network(address)
    return [i for i in intervals if i.address == network and i.start <= at
            and (i.end is None or at < i.end)]


def test_every_file_parses_without_quarantine(generated: GeneratedSet) -> None:
    kinds = {Path(name).parts[0] for name, _, _ in generated.files}
    assert kinds == {"radacct", "dhcpd", "cgnat"}
    for name, lines, _ in generated.files:
        assert lines > 0
        items = list(_parse(generated.out_dir / name))
        bad = [item for item in items if isinstance(item, Quarantined)]
        assert bad == [], name
        assert items, name
    assert generated.truth_rows > 0


def test_the_same_seed_gives_the_same_bytes(generated: GeneratedSet, tmp_path: Path) -> None:
    again = _generate(tmp_path / "again")
    assert again.files == generated.files
    for name, _, _ in generated.files:
        assert (tmp_path / "again" / name).read_bytes() == (generated.out_dir / name).read_bytes()
    assert (tmp_path / "again" / "truth.csv").read_bytes() == generated.truth.read_bytes()
    other = _generate(tmp_path / "other", seed=8)
    assert other.truth.read_bytes() != generated.truth.read_bytes()


def test_radius_intervals_cover_the_truth(generated: GeneratedSet) -> None:
    intervals: list[Any] = []
    for nas in sorted((generated.out_dir / "radacct").iterdir()):
        events = _events(nas, "detail-*")
        intervals += radius_intervals(events, stale_after=timedelta(hours=24))
    rows = _truth(generated.out_dir, "radius")
    assert len([r for r in rows if ":" not in r["address"]]) > 50
    assert [r for r in rows if ":" in r["address"]], "dual-stack sessions hold prefixes too"
    horizon = datetime(2024, 3, 6, 6, tzinfo=UTC)
    for row in rows:
        holders = _holders(intervals, row["address"], _middle(row, horizon))
        assert [h.username for h in holders] == [row["identity_value"]], row


def test_dhcp_intervals_cover_the_truth(generated: GeneratedSet) -> None:
    events = _events(generated.out_dir / "dhcpd", "*/dhcpd.leases-*")
    intervals = list(dhcp_intervals(events))
    rows = _truth(generated.out_dir, "dhcp")
    assert rows
    horizon = datetime(2024, 3, 6, 6, tzinfo=UTC)
    for row in rows:
        holders = _holders(intervals, row["address"], _middle(row, horizon))
        assert [h.mac for h in holders] == [row["identity_value"]], row


def test_nat_intervals_cover_the_truth(generated: GeneratedSet) -> None:
    events = _events(generated.out_dir / "cgnat", "*/messages-*")
    intervals = list(nat_intervals(events))
    rows = _truth(generated.out_dir, "nat")
    assert rows
    horizon = datetime(2024, 3, 6, 6, tzinfo=UTC)
    for row in rows:
        port = int(row["port_first"]) + 7
        holders = [i for i in _holders(intervals, row["address"], _middle(row, horizon))
                   if i.port_first <= port <= i.port_last]
        assert [str(h.inside.network_address) for h in holders] == [row["inside_address"]]


@pytest.mark.django_db
def test_a_generated_detail_file_ingests(generated: GeneratedSet, tmp_path: Path) -> None:
    name = next(n for n, _, _ in generated.files if n.startswith("radacct/"))
    result = ingest_file(generated.out_dir / name, "radius-detail", ZONE, tmp_path / "store")
    assert result.quarantined == 0
    assert result.intervals > 0


def test_the_command_writes_and_reports(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "logs"
    code = main(["logs", "generate", str(out), "--subscribers", "5", "--days", "1",
                 "--seed", "3", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert summary["files"] >= 3
    assert summary["lines"] > 0
    assert (out / "truth.csv").exists()
    assert main(["logs", "generate", str(out), "--json"]) == 2  # not empty: refused
