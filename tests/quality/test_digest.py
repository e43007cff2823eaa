"""The per-day session digests: the same sessions and figures as the raw path, never stale,
never outliving a purged row, never half written.

Two real stores: the RADIUS scene ingested from detail-file text by `ingest_file` (which
writes the digests after its commit), and the benchmark's synthetic ISP written straight
through the store's writer (no digests: the first read builds them). The raw path (`scan`,
then `fold`) is the reference; `CPNIGUARD_QUALITY_DIGEST=off` forces it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from bench.synthetic_store import SyntheticTruth, build_store, nas_name, pop_name

from cpniguard.connectivity.store import EmbeddedLogStore
from cpniguard.connectivity.store.purge import purge_day
from cpniguard.connectivity.store.schema import DAY_US, to_us
from cpniguard.connectivity.store.verify import verify_store
from cpniguard.connectivity.store.writer import day_name
from cpniguard.quality import config
from cpniguard.quality.digest import SWITCH, read_day
from cpniguard.quality.digest_write import DIGEST_NAME, build, built_from, holder_keys, is_fresh
from cpniguard.quality.folding import Folded, fold
from cpniguard.quality.groups import grouping
from cpniguard.quality.outages import detect_groups
from cpniguard.quality.report import build_network
from cpniguard.quality.scan import ScanRange, scan
from tests.quality.conftest import DAY, synthetic_home, utc_day
from tests.quality.radius_scene import Scene
from tests.retention.conftest import row

pytestmark = pytest.mark.django_db
SCENE_DAY = to_us(DAY) // DAY_US


def sessions(folded: Folded, keys: np.ndarray[Any, Any]) -> list[tuple[Any, ...]]:
    """Every session as plain values, holders as their digest keys, in a canonical order."""
    return sorted(zip([folded.source_names[c] for c in folded.source.tolist()],
                      [folded.device_names[c] for c in folded.device.tolist()],
                      keys.tolist(),
                      [folded.circuit_names[c] if folded.circuit_names else ""
                       for c in folded.circuit.tolist()],
                      folded.start.tolist(), folded.finish.tolist(), folded.kind.tolist(),
                      np.diff(folded.row_offsets).tolist(), strict=True))


def assert_same_sessions(root: Path, span: ScanRange, devices: list[str] | None = None
                         ) -> int:
    found = read_day(root, span, devices)
    assert found is not None, "the digests did not answer"
    table, folded = found
    raw = scan(root, span)
    if devices is not None:
        named = [d or s for d, s in zip(raw.column("device").to_pylist(),
                                        raw.column("source").to_pylist(), strict=True)]
        raw = raw.filter(np.isin(np.array(named, dtype=object), devices))
    reference = fold(raw)
    reference_keys = holder_keys(reference.holder_names)[reference.holder]
    # The digest numbers holders by key rank: map the reference's keys the same way.
    ranked = np.searchsorted(np.unique(reference_keys), reference_keys)
    assert len(table) == len(raw)
    assert sessions(folded, folded.holder) == sessions(reference, ranked)
    # The rows of each session carry its octets: the totals agree too.
    for column in ("octets_in", "octets_out"):
        assert pc.sum(table.column(column)).as_py() == pc.sum(raw.column(column)).as_py()
    return len(folded)


def report(root: Path, span: ScanRange, monkeypatch: pytest.MonkeyPatch, *, digest: bool,
           **scope: str | None) -> dict[str, Any]:
    monkeypatch.setenv(SWITCH, "on" if digest else "off")
    return build_network(root, span, device=scope.get("device"), pop=scope.get("pop"),
                         resolution=None, k=3)


# The RADIUS scene, ingested from text.

def test_the_first_whole_day_read_writes_a_fresh_digest_and_reads_the_same(
        network: Scene, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "logstore"
    directory = root / "radius-detail" / day_name(SCENE_DAY)
    span = ScanRange(SCENE_DAY * DAY_US, (SCENE_DAY + 1) * DAY_US)
    assert not (directory / DIGEST_NAME).exists()  # the ingest does not build it
    assert read_day(root, span) is not None
    assert (directory / DIGEST_NAME).is_file()
    assert is_fresh(directory)
    assert assert_same_sessions(root, span) > 60
    raw = report(root, span, monkeypatch, digest=False)
    digested = report(root, span, monkeypatch, digest=True)
    assert digested == raw
    assert raw["incidents"]
    assert raw["devices"][0]["causes"]


def test_a_range_that_is_not_one_whole_day_takes_the_raw_path(network: Scene,
                                                              tmp_path: Path) -> None:
    root = tmp_path / "logstore"
    since = SCENE_DAY * DAY_US
    assert read_day(root, ScanRange(since, since + DAY_US // 2)) is None
    assert read_day(root, ScanRange(since + 1, since + DAY_US + 1)) is None
    assert read_day(root, ScanRange(since, since + 2 * DAY_US)) is None


# The synthetic ISP: RADIUS, DHCP and CGNAT across four POPs.

@pytest.fixture(scope="module")
def isp(tmp_path_factory: pytest.TempPathFactory) -> SyntheticTruth:
    root = tmp_path_factory.mktemp("digest") / "logstore"
    return build_store(root, 40_000, 4, seed=11)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isp: SyntheticTruth) -> Path:
    return synthetic_home(tmp_path, monkeypatch, isp)


@pytest.mark.parametrize("number", [0, 1, 3])
def test_synthetic_days_read_the_same_sessions_and_reports(
        isp: SyntheticTruth, home: Path, monkeypatch: pytest.MonkeyPatch, number: int) -> None:
    span = utc_day(isp, number)
    assert assert_same_sessions(isp.root, span) > 1000   # builds the missing digests
    assert assert_same_sessions(isp.root, span, [nas_name(0, 0)]) > 10
    for scope in ({}, {"device": nas_name(1, 2)}, {"pop": pop_name(0)}):
        assert report(isp.root, span, monkeypatch, digest=True, **scope) == \
            report(isp.root, span, monkeypatch, digest=False, **scope), scope


def test_the_outage_scan_finds_the_same_incidents(isp: SyntheticTruth, home: Path) -> None:
    topology, rule = config.topology(), config.outage_rule()
    for number in (1, 3, 2):
        span = utc_day(isp, number)
        found = read_day(isp.root, span)
        assert found is not None
        raw = fold(scan(isp.root, span))
        for level in ("nas", "pop"):
            ours = detect_groups(found[1], grouping(found[1], topology, level), rule,
                                 span.since, span.until)
            theirs = detect_groups(raw, grouping(raw, topology, level), rule, span.since,
                                   span.until)
            assert [i.to_dict() for i in ours] == [i.to_dict() for i in theirs]
            if number == 2:
                assert ours == []


# Freshness, privacy, crash safety.

@pytest.fixture
def small(tmp_path: Path) -> EmbeddedLogStore:
    store = EmbeddedLogStore(tmp_path / "logstore")
    base = datetime(2026, 3, 4, tzinfo=UTC)
    store.add("radius-detail", [
        row("192.0.2.10/32", base + timedelta(hours=1), base + timedelta(hours=2),
            username="alice@example.net", session_id="s1"),
        row("192.0.2.11/32", base + timedelta(hours=1), base + timedelta(hours=3),
            username="bob@example.net", session_id="s2"),
    ])
    return store


def small_day(store: EmbeddedLogStore) -> tuple[Path, int, ScanRange]:
    day = to_us(datetime(2026, 3, 4, tzinfo=UTC)) // DAY_US
    return (store.root / "radius-detail" / day_name(day), day,
            ScanRange(day * DAY_US, (day + 1) * DAY_US))


def test_a_stale_digest_is_never_used_and_is_rebuilt(small: EmbeddedLogStore) -> None:
    directory, day, span = small_day(small)
    assert build(small.root, "radius-detail", day)
    small.add("radius-detail", [row("192.0.2.12/32", datetime(2026, 3, 4, 5, tzinfo=UTC),
                                    datetime(2026, 3, 4, 6, tzinfo=UTC),
                                    username="carol@example.net", session_id="s3")])
    assert not is_fresh(directory)
    assert read_day(small.root, span, rebuild=False) is None
    found = read_day(small.root, span)
    assert found is not None
    assert len(found[1]) == 3
    assert is_fresh(directory)


def test_a_damaged_or_foreign_digest_is_not_trusted(small: EmbeddedLogStore) -> None:
    directory, _day, span = small_day(small)
    (directory / DIGEST_NAME).write_bytes(b"PAR1 half a file")
    assert not is_fresh(directory)
    found = read_day(small.root, span)
    assert found is not None
    assert len(found[1]) == 2
    assert is_fresh(directory)
    # A digest recording other manifests (another generation of the day) is stale.
    table = pq.read_table(directory / DIGEST_NAME)
    meta = json.loads(table.schema.metadata[b"cpniguard.quality_digest"])
    meta["built_from"] = dict.fromkeys(meta["built_from"], "0" * 64)
    pq.write_table(table.replace_schema_metadata(
        {b"cpniguard.quality_digest": json.dumps(meta)}), directory / DIGEST_NAME)
    assert not is_fresh(directory)
    assert read_day(small.root, span, rebuild=False) is None


def test_purging_a_day_leaves_no_purged_identity_in_any_digest(
        small: EmbeddedLogStore) -> None:
    directory, day, span = small_day(small)
    assert build(small.root, "radius-detail", day)
    alice_key = int(holder_keys(["username=alice@example.net"])[0])
    digest = pq.read_table(directory / DIGEST_NAME)
    assert alice_key in digest.column("holder").to_pylist()
    result = purge_day(small.root, "radius-detail", directory.name,
                       lambda r: r.username == "bob@example.net")
    assert result.removed == 1
    assert result.kept == 1
    assert result.rewritten
    assert not (directory / DIGEST_NAME).exists()
    found = read_day(small.root, span)            # rebuilt from the kept rows only
    assert found is not None
    assert len(found[1]) == 1
    rebuilt = pq.read_table(directory / DIGEST_NAME)
    assert alice_key not in rebuilt.column("holder").to_pylist()
    leftovers = [p for p in small.root.rglob("*") if p.is_file()
                 and b"alice@example.net" in p.read_bytes()]
    assert leftovers == []


def test_dropping_partitions_drops_the_digest(small: EmbeddedLogStore) -> None:
    directory, day, _ = small_day(small)
    assert build(small.root, "radius-detail", day)
    small.drop_partition("radius-detail", directory.name)
    assert not directory.exists()


def test_verify_neither_flags_nor_trusts_the_digest(small: EmbeddedLogStore) -> None:
    directory, day, _ = small_day(small)
    assert build(small.root, "radius-detail", day)
    # A crash between the temp write and the rename leaves a temp file: invisible too.
    (directory / f".{DIGEST_NAME}.tmp-99999").write_bytes(b"partial")
    checked = verify_store(small.root)
    assert checked.ok
    assert checked.problems == []
    assert checked.files == sum(len(json.loads((directory / m).read_text())["files"])
                                for m in built_from(directory))


def test_the_switch_turns_digests_off(small: EmbeddedLogStore,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, span = small_day(small)
    monkeypatch.setenv(SWITCH, "off")
    assert read_day(small.root, span) is None
    monkeypatch.setenv(SWITCH, "on")
    assert read_day(small.root, span) is not None
