"""The single-question path (`PartitionIndex.find_one`, scalar row reads) against the batch
path, partitions whose blocks were written with zstd (before LZ4), long runs of one key, and
the dotted-quad parse that skips `ipaddress`."""

from __future__ import annotations

import gc
import ipaddress
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cpniguard.connectivity.store import EmbeddedLogStore, Query, StoredInterval, rowblocks
from cpniguard.connectivity.store.index import PartitionIndex
from cpniguard.connectivity.store.schema import address_key, from_us, to_us
from cpniguard.connectivity.store.verify import verify_store

from .test_store_rowblocks import varied_rows

BASE = to_us(datetime(2025, 6, 1, tzinfo=UTC))
PUBLIC = "203.0.113.9"


def _port_blocks(count: int) -> list[StoredInterval]:
    """One CGNAT public address, `count` port blocks of 64 over the day: a run of `count`
    rows holding the same key, longer than the row-by-row walk takes."""
    hi, lo, plen = address_key(PUBLIC)
    rows = []
    for n in range(count):
        start = BASE + (n % 7) * 3_600_000_000
        rows.append(StoredInterval(
            hi=hi, lo=lo, plen=plen, start=start, end=start + 5_400_000_000,
            original_start=start, original_end=start + 5_400_000_000, source="cgnat",
            port_first=1024 + 64 * n, port_last=1024 + 64 * n + 63, username=f"sub{n}"))
    return rows


@pytest.mark.parametrize("count", [3, 24, 25, 200])
def test_a_long_run_of_one_key_answers_like_the_batch(tmp_path: Path, count: int) -> None:
    store = EmbeddedLogStore(tmp_path)
    rows = _port_blocks(count)
    store.add("cgnat", rows)
    rng = random.Random(count)
    for _ in range(60):
        at = from_us(BASE + rng.randrange(0, 12 * 3_600_000_000))
        port = rng.choice([None, rng.randrange(1024, 1024 + 64 * count + 100)])
        one = store.lookup(PUBLIC, at, port=port)
        assert one == store.batch_lookup([Query(PUBLIC, at, port)])[0]
        expected = {r.username for r in rows if r.start <= to_us(at) < r.end and (
            port is None or r.port_first <= port <= r.port_last)}
        assert {m.interval.username for m in one} == expected


def test_zstd_blocks_of_earlier_partitions_still_read(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Partitions written before LZ4 name no codec in their manifest: zstd is read for them,
    row for row equal to a partition written now."""
    rows = varied_rows(5 * rowblocks.BLOCK_ROWS, 21, ports=True)
    [new] = EmbeddedLogStore(tmp_path / "new").add("radius", rows)
    monkeypatch.setattr(rowblocks, "BLOCK_CODEC", "zstd")
    [old] = EmbeddedLogStore(tmp_path / "old").add("radius", rows)
    data = json.loads(old.read_text())
    assert data.pop("block_codec") == "zstd"
    old.write_text(json.dumps(data))  # as the first format 2 manifests were
    assert json.loads(new.read_text())["block_codec"] == "lz4_raw"
    assert not verify_store(tmp_path / "old").problems
    everything = list(range(len(rows)))
    assert PartitionIndex(old).read_rows(everything) == PartitionIndex(new).read_rows(everything)
    few = [0, 3, 2 * rowblocks.BLOCK_ROWS + 1]
    assert PartitionIndex(old).read_rows(few) == PartitionIndex(new).read_rows(few)


def test_an_unknown_block_codec_is_refused(tmp_path: Path) -> None:
    [manifest] = EmbeddedLogStore(tmp_path).add("radius", varied_rows(10, 22, ports=False))
    data = json.loads(manifest.read_text())
    data["block_codec"] = "brotli"
    manifest.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="unknown row block codec 'brotli'"):
        PartitionIndex(manifest)


def test_single_lookups_equal_the_batch_on_varied_rows(tmp_path: Path) -> None:
    """Every row of a varied partition (several prefix lengths, port ranges, open ends) asked
    for alone and in one batch, with and without skew and port."""
    store = EmbeddedLogStore(tmp_path)
    rows = varied_rows(4 * rowblocks.BLOCK_ROWS, 23, ports=True)
    store.add("radius", rows[::2])
    store.add("radius", rows[1::2])  # two parts of one day
    rng = random.Random(24)
    asked = []
    for row in rows:
        address = str(row.address.network_address)
        port = row.port_first if row.port_first >= 0 and rng.random() < 0.7 else None
        skew = timedelta(seconds=rng.choice([0, 0, 90]))
        asked.append(Query(address, from_us(row.start + rng.choice([0, 1, 59_000_000])), port,
                           skew))
    answers = store.batch_lookup(asked)
    assert sum(map(len, answers)) >= len(rows)
    for query, answer in zip(asked, answers, strict=True):
        assert store.lookup(query.address, query.at, port=query.port,
                            skew=query.skew) == answer


@pytest.mark.parametrize("text", [
    "192.0.2.1", "0.0.0.0",  # noqa: S104
    "255.255.255.255", "198.51.100.07", "10.0.0.256", "1.2.3",
    "1.2.3.4.5", "1..2.3", " 1.2.3.4", "1.2.3.4 ", "+1.2.3.4", "\u0661.2.3.4", "1.2.3.-4",
    "2001:db8::1", "::ffff:192.0.2.1",
])
def test_dotted_quads_parse_as_ipaddress_does(text: str) -> None:
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
            address_key(text)
        return
    if parsed.version == 6 and parsed.ipv4_mapped is not None:
        with pytest.raises(ValueError, match="reserved for IPv4"):
            address_key(text)
        return
    value = int(parsed) | ((0xFFFF << 32) if parsed.version == 4 else 0)
    assert address_key(text) == (value >> 64, value & (2**64 - 1), 128)


@pytest.mark.parametrize("was_on", [True, False])
def test_a_batch_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path,
                                                              was_on: bool) -> None:
    store = EmbeddedLogStore(tmp_path)
    rows = _port_blocks(30)
    store.add("cgnat", rows)
    (gc.enable if was_on else gc.disable)()
    try:
        [found] = store.batch_lookup([Query(PUBLIC, from_us(rows[0].start), 1024)])
        assert [m.interval.username for m in found] == ["sub0"]
        assert gc.isenabled() is was_on
    finally:
        gc.enable()
