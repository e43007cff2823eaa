"""The per-day rollups: the raw path's report and incidents, read from prepared counts; never
stale, never holding a subscriber, gone with the day's rows.

The raw path (`scan`, then `fold`, with `CPNIGUARD_QUALITY_DIGEST=off`) is the reference.
Every comparison also checks that the rollup answered (not a silent fall-back to another
path), and covers every scope a report can be narrowed to, several resolutions and several k.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from bench.synthetic_store import SyntheticTruth, build_store, nas_name, pop_name

from cpniguard.connectivity.store import EmbeddedLogStore
from cpniguard.connectivity.store.purge import purge_day
from cpniguard.connectivity.store.schema import DAY_US, to_us
from cpniguard.connectivity.store.writer import day_name
from cpniguard.quality import config
from cpniguard.quality.digest import SWITCH as DIGESTS
from cpniguard.quality.digest_write import holder_keys
from cpniguard.quality.folding import fold
from cpniguard.quality.groups import grouping
from cpniguard.quality.outages import detect_groups
from cpniguard.quality.report import _incident_evidence, build_network
from cpniguard.quality.rollup import Scope, day_incidents, report_of_day
from cpniguard.quality.rollup_store import ROLLUP_NAME, build, load
from cpniguard.quality.rollup_store import SWITCH as ROLLUPS
from cpniguard.quality.scan import ScanRange, scan
from tests.quality.conftest import DAY, synthetic_home, utc_day
from tests.quality.radius_scene import NASES, Scene
from tests.retention.conftest import row

pytestmark = pytest.mark.django_db


def report(root: Path, span: ScanRange, monkeypatch: pytest.MonkeyPatch, *, path: str,
           resolution: str | None = None, k: int = 3, **scope: str | None) -> dict[str, Any]:
    """The report by `path`: "rollup" (and it must be the rollup that answers) or "raw"."""
    monkeypatch.setenv(DIGESTS, "off" if path == "raw" else "on")
    monkeypatch.setenv(ROLLUPS, "on")
    if path == "rollup":
        wanted = ([d for d, p in config.topology().pops.items() if p == scope["pop"]]
                  if scope.get("pop") else [scope["device"]] if scope.get("device") else None)
        assert report_of_day(root, span, Scope(scope.get("device"), scope.get("pop"), wanted),
                             seconds=60, k=k) is not None, "the rollup did not answer"
    return build_network(root, span, device=scope.get("device"), pop=scope.get("pop"),
                         resolution=resolution, k=k)


@pytest.fixture(scope="module")
def isp(tmp_path_factory: pytest.TempPathFactory) -> SyntheticTruth:
    root = tmp_path_factory.mktemp("rollup") / "logstore"
    return build_store(root, 40_000, 4, seed=11)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isp: SyntheticTruth) -> Path:
    return synthetic_home(tmp_path, monkeypatch, isp)


SCOPES: list[dict[str, str | None]] = [
    {}, {"device": nas_name(1, 2)}, {"pop": pop_name(0)},
    {"device": "192.0.2.100"},   # a POP's DHCP server: lease churn, access devices
    {"device": "192.0.2.200"},   # a POP's CGNAT box: port blocks
]


@pytest.mark.parametrize("number", [1, 3])
@pytest.mark.parametrize("scope", SCOPES, ids=["all", "nas", "pop", "dhcp", "cgnat"])
def test_the_rollup_gives_the_raw_report_for_every_scope_resolution_and_k(
        isp: SyntheticTruth, home: Path, monkeypatch: pytest.MonkeyPatch, number: int,
        scope: dict[str, str | None]) -> None:
    span = utc_day(isp, number)
    for resolution, k in ((None, 3), ("1m", 3), ("1h", 5), ("1d", 3), (None, 40)):
        ours = report(isp.root, span, monkeypatch, path="rollup", resolution=resolution, k=k,
                      **scope)
        theirs = report(isp.root, span, monkeypatch, path="raw", resolution=resolution, k=k,
                        **scope)
        assert ours == theirs, (resolution, k)
        assert json.dumps(ours) == json.dumps(theirs)   # the same keys in the same order
    assert theirs["devices"]


def test_the_rollup_holds_the_days_incidents_as_the_scan_finds_them(
        isp: SyntheticTruth, home: Path) -> None:
    topology, rule = config.topology(), config.outage_rule()
    for number in (1, 3, 2):
        span = utc_day(isp, number)
        ours = day_incidents(isp.root, span)
        assert ours is not None
        raw = fold(scan(isp.root, span))
        theirs = [*detect_groups(raw, grouping(raw, topology, "nas"), rule, span.since,
                                 span.until),
                  *detect_groups(raw, grouping(raw, topology, "pop"), rule, span.since,
                                 span.until)]
        theirs.sort(key=lambda i: (i.start, i.level != "nas", i.device))
        for incident in theirs:
            _incident_evidence(isp.root, incident)
        assert [i.to_dict() for i in ours] == [i.to_dict() for i in theirs]
        if number == 2:
            assert ours == []       # a quiet day
        else:
            assert ours
            assert all(i.evidence for i in ours)


def test_other_ranges_and_unknown_scopes_are_not_answered_by_the_rollup(
        isp: SyntheticTruth, home: Path) -> None:
    span = utc_day(isp, 1)
    half = ScanRange(span.since, span.since + DAY_US // 2)
    assert report_of_day(isp.root, half, Scope(None, None, None), seconds=300, k=5) is None
    assert report_of_day(isp.root, span, Scope("192.0.2.254", None, ["192.0.2.254"]),
                         seconds=300, k=5) is None
    assert report_of_day(isp.root, span, Scope(None, "nowhere", ["nowhere"]), seconds=300,
                         k=5) is None


def test_the_radius_scene_ingested_from_text_gives_the_same_report(
        network: Scene, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "logstore"
    day = to_us(DAY) // DAY_US
    span = ScanRange(day * DAY_US, (day + 1) * DAY_US)
    for scope in ({}, {"device": NASES[0]}):
        ours = report(root, span, monkeypatch, path="rollup", **scope)
        assert ours == report(root, span, monkeypatch, path="raw", **scope)
        assert ours["incidents"]
        assert ours["devices"][0]["causes"]


# Freshness, privacy, crash safety.

BASE = datetime(2026, 3, 4, tzinfo=UTC)
USERS = ("alice@example.net", "bob@example.net")


@pytest.fixture
def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EmbeddedLogStore:
    monkeypatch.setenv("CPNIGUARD_HOME", str(tmp_path))
    monkeypatch.delenv("CPNIGUARD_CGNAT_POOLS", raising=False)
    store = EmbeddedLogStore(tmp_path / "logstore")
    store.add("radius-detail", [
        row("192.0.2.10/32", BASE + timedelta(hours=1), BASE + timedelta(hours=2),
            username=USERS[0], session_id="s1"),
        row("192.0.2.11/32", BASE + timedelta(hours=1), BASE + timedelta(hours=3),
            username=USERS[1], session_id="s2"),
    ])
    return store


def day_of(store: EmbeddedLogStore) -> tuple[int, Path]:
    day = to_us(BASE) // DAY_US
    return day, store.root / "radius-detail" / day_name(day) / ROLLUP_NAME


def sessions_of_day(store: EmbeddedLogStore) -> int | None:
    day, _ = day_of(store)
    found = report_of_day(store.root, ScanRange(day * DAY_US, (day + 1) * DAY_US),
                          Scope(None, None, None), seconds=86_400, k=1)
    return None if found is None else found["overall"]["sessions"]


def test_the_first_whole_day_read_writes_it_and_a_change_makes_it_stale(
        small: EmbeddedLogStore) -> None:
    day, path = day_of(small)
    assert not path.exists()
    assert sessions_of_day(small) == 2
    assert path.is_file()
    assert load(small.root, day) is not None
    small.add("radius-detail", [row("192.0.2.12/32", BASE + timedelta(hours=5),
                                    BASE + timedelta(hours=6), username="carol@example.net",
                                    session_id="s3")])
    assert load(small.root, day) is None            # the manifests changed
    assert sessions_of_day(small) == 3               # rebuilt
    # A new source that day: every source's directory gets a copy, the old one is stale.
    small.add("dhcpd", [row("198.51.100.7/32", BASE + timedelta(hours=2),
                            BASE + timedelta(hours=4), mac="00:00:5e:00:53:01")])
    assert load(small.root, day) is None
    assert sessions_of_day(small) == 4
    assert (small.root / "dhcpd" / day_name(day) / ROLLUP_NAME).is_file()


def test_a_changed_network_toml_makes_it_stale(small: EmbeddedLogStore, tmp_path: Path
                                               ) -> None:
    day, _ = day_of(small)
    assert build(small.root, day)
    assert load(small.root, day) is not None
    (tmp_path / "network.toml").write_text('[pools.p]\nnetworks = ["192.0.2.0/28"]\n')
    assert load(small.root, day) is None
    assert sessions_of_day(small) == 2
    assert load(small.root, day) is not None


def test_a_damaged_or_foreign_rollup_is_not_trusted(small: EmbeddedLogStore) -> None:
    day, path = day_of(small)
    assert build(small.root, day)
    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[b"cpniguard.quality_rollup"])
    meta["built_from"] = dict.fromkeys(meta["built_from"], "0" * 64)
    pq.write_table(table.replace_schema_metadata(
        {b"cpniguard.quality_rollup": json.dumps(meta)}), path)
    assert load(small.root, day) is None
    path.write_bytes(b"PAR1 half a file")
    assert load(small.root, day) is None
    assert sessions_of_day(small) == 2               # rebuilt, not trusted
    assert load(small.root, day) is not None


def test_it_names_no_subscriber_and_goes_with_a_purge_or_a_drop(
        small: EmbeddedLogStore) -> None:
    day, path = day_of(small)
    assert build(small.root, day)
    keys = {int(k) for k in holder_keys([f"username={u}" for u in USERS])}
    data = path.read_bytes()
    rollup = load(small.root, day)
    assert rollup is not None
    assert not any(u.encode() in data for u in USERS)
    assert not any(int(v) in keys for a in rollup.arrays.values() for v in a.ravel())
    assert not any(u in json.dumps(rollup.meta) for u in USERS)
    result = purge_day(small.root, "radius-detail", path.parent.name,
                       lambda r: r.username == USERS[1])
    assert result.removed == 1
    assert not path.exists()                         # before any row went
    assert sessions_of_day(small) == 1               # rebuilt from the kept rows only
    small.drop_partition("radius-detail", path.parent.name)
    assert not path.parent.exists()


def test_the_switches_turn_rollups_off(small: EmbeddedLogStore,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _, path = day_of(small)
    monkeypatch.setenv(ROLLUPS, "off")
    assert sessions_of_day(small) is None
    monkeypatch.setenv(ROLLUPS, "on")
    monkeypatch.setenv(DIGESTS, "off")                # the raw path is the reference
    assert sessions_of_day(small) is None
    assert not path.exists()
    monkeypatch.setenv(DIGESTS, "on")
    assert sessions_of_day(small) == 2


def test_an_access_device_behind_two_servers_is_shown_as_each_scope_sees_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """olt-9 has leases from two DHCP servers in two POPs: a report narrowed to one server
    or one POP shows only its part of olt-9, as the raw path does."""
    from dataclasses import replace

    monkeypatch.setenv("CPNIGUARD_HOME", str(tmp_path))
    monkeypatch.delenv("CPNIGUARD_CGNAT_POOLS", raising=False)
    (tmp_path / "network.toml").write_text(
        'access_pattern = "^(?P<access>olt-[0-9]+)/"\n'
        '[pops.east]\ndevices = ["192.0.2.1"]\n[pops.west]\ndevices = ["192.0.2.2"]\n')
    store = EmbeddedLogStore(tmp_path / "logstore")
    rows = []
    for n in range(24):
        server, olt = ("192.0.2.1", "olt-9") if n % 3 else ("192.0.2.2", "olt-9" if n % 2
                                                             else "olt-4")
        begin = BASE + timedelta(hours=n % 12, minutes=7 * n)
        rows.append(replace(row(f"198.51.100.{n + 1}/32", begin, begin + timedelta(hours=3),
                                mac=f"00:00:5e:00:53:{n:02x}", source="dhcpd"),
                            device=server, circuit_id=f"{olt}/1/{n}"))
    store.add("dhcpd", rows)
    day = to_us(BASE) // DAY_US
    span = ScanRange(day * DAY_US, (day + 1) * DAY_US)
    for scope in ({}, {"device": "192.0.2.1"}, {"device": "192.0.2.2"}, {"pop": "east"},
                  {"pop": "west"}):
        ours = report(store.root, span, monkeypatch, path="rollup", resolution="1h", k=2,
                      **scope)
        theirs = report(store.root, span, monkeypatch, path="raw", resolution="1h", k=2,
                        **scope)
        assert ours == theirs, scope
        assert "olt-9" in [v["device"] for v in ours["access_devices"]]
    whole = report(store.root, span, monkeypatch, path="rollup", resolution="1h", k=1)
    west = report(store.root, span, monkeypatch, path="rollup", resolution="1h", k=1,
                  pop="west")
    olt = {v["device"]: v["sessions"] for v in whole["access_devices"]}
    part = {v["device"]: v["sessions"] for v in west["access_devices"]}
    assert olt["olt-9"] == 20
    assert part["olt-9"] == 4
