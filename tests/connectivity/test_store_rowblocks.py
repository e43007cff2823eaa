"""Format 2 partitions: rows read from the row blocks equal rows read from Parquet, and
partitions written in format 1 (every index array, no blocks) are still answered."""

from __future__ import annotations

import hashlib
import io
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from cpniguard.connectivity.events import Evidence
from cpniguard.connectivity.store import EmbeddedLogStore, StoredInterval
from cpniguard.connectivity.store.index import PartitionIndex, Query, probe_arrays
from cpniguard.connectivity.store.rowblocks import BLOCK_ROWS
from cpniguard.connectivity.store.schema import DAY_US, OPEN_END, address_key, from_us, to_us
from cpniguard.connectivity.store.verify import verify_store
from cpniguard.connectivity.store.writer import KEY_DTYPE

BASE = to_us(datetime(2025, 6, 1, tzinfo=UTC))
ADDRESSES = ["198.18.0.1", "198.18.3.200", "100.64.0.9", "2001:db8:1:100::/56",
             "2001:db8::5", "2001:db8:ffff::/48"]
TEXTS = ["", "user@example.net", "Zoë@example.org", "a,b", "x" * 300, "02:00:00:00:00:01",
         "tab\there", "🙂"]


def session_id(rng: random.Random, seed: int) -> str:
    """Hex ids (packed to bytes when a whole block has them) in either case, or a mix."""
    lower = f"{rng.getrandbits(128):032x}"
    if seed % 3 == 1:
        return lower
    if seed % 3 == 2:
        return rng.choice([lower.upper(), f"{rng.getrandbits(32):08X}"])
    return rng.choice([lower, lower.upper(), "", "0a1", "aB", "sess-7", "00"])


def varied_rows(count: int, seed: int, *, ports: bool) -> list[StoredInterval]:
    """Every column varied: nulls, empty and non-ASCII strings, open ends, several evidence
    entries or none, split pieces whose original interval differs from the stored one."""
    rng = random.Random(seed)
    rows = []
    for _n in range(count):
        hi, lo, plen = address_key(rng.choice(ADDRESSES))
        start = BASE + rng.randrange(0, DAY_US - 10, 1_000_001)
        end = rng.choice([OPEN_END, start, start + rng.randrange(1, DAY_US - (start - BASE))])
        has_ports = ports and rng.random() < 0.5
        first = rng.randrange(0, 60_000) if has_ports else -1
        rows.append(StoredInterval(
            hi=hi, lo=lo, plen=plen, start=start, end=end,
            original_start=start - rng.choice([0, 0, 17, 5 * DAY_US]),
            original_end=end if end == OPEN_END else end + rng.choice([0, 0, 3 * DAY_US]),
            source=rng.choice(["radius", "dhcp"]),
            last_seen=rng.choice([None, start, start + 999]),
            port_first=first, port_last=first + 63 if has_ports else -1,
            username=rng.choice(TEXTS), mac=rng.choice(TEXTS), client_id=rng.choice(TEXTS),
            duid=rng.choice(TEXTS), circuit_id=rng.choice(TEXTS), remote_id=rng.choice(TEXTS),
            device=rng.choice(TEXTS), session_id=session_id(rng, seed),
            flags=rng.choice(["", "no-stop", "continued-in-later-file,no-stop"]),
            evidence=tuple(Evidence(rng.choice(["a.log", "détail.log"]), rng.randrange(1, 10**9),
                                    rng.choice(["ab" * 32, ""]))
                           for _ in range(rng.choice([0, 1, 1, 3]))),
            terminate_cause=rng.choice([None, "", "Lost-Carrier", "User-Request"]),
            octets_in=rng.choice([None, 0, 2**62 + 5]),
            octets_out=rng.choice([None, 7, 2**40])))
    return rows


@pytest.mark.parametrize(("seed", "ports"), [(1, False), (2, True), (3, True)])
def test_rows_from_blocks_equal_rows_from_parquet(tmp_path: Path, seed: int, ports: bool
                                                  ) -> None:
    count = 5 * BLOCK_ROWS + 7
    [manifest] = EmbeddedLogStore(tmp_path).add("radius", varied_rows(count, seed, ports=ports))
    index = PartitionIndex(manifest)
    assert index.format == 2
    assert index.blocks is not None
    everything = index._from_parquet(list(range(count)))
    assert len(everything) == count
    for row in range(count):  # each row on its own, so the block path is taken every time
        assert index.read_rows([row]) == {row: everything[row]}
    assert index._from_blocks(list(range(count))) == everything


def test_constant_arrays_are_not_written(tmp_path: Path) -> None:
    store = EmbeddedLogStore(tmp_path)
    [plain] = store.add("plain", [r for r in varied_rows(40, 4, ports=False)
                                  if r.plen == 128][:10])
    [ported] = store.add("ported", varied_rows(40, 5, ports=True))
    plain_files = set(json.loads(plain.read_text())["files"])
    ported_files = set(json.loads(ported.read_text())["files"])
    assert not any(name.endswith((".row.npy", ".pfirst.npy", ".plen.npy"))
                   for name in plain_files)
    assert any(name.endswith(".pfirst.npy") for name in ported_files)
    assert any(name.endswith(".plen.npy") for name in ported_files)
    index = PartitionIndex(plain)
    assert set(index.pfirst.tolist()) == {-1}
    assert set(index.plen.tolist()) == {128}
    assert not verify_store(tmp_path).problems


def _as_format_1(manifest: Path) -> None:
    """Rewrite a format 2 partition as format 1 wrote it: every index array, no blocks."""
    index = PartitionIndex(manifest)
    stem = manifest.name.removesuffix(".manifest.json")
    key = np.empty(len(index.key), dtype=KEY_DTYPE)  # little-endian halves, as format 1 had
    key["hi"], key["lo"] = index.key["hi"], index.key["lo"]
    arrays = {"key": key, "row": np.arange(len(index.key), dtype=np.int32),
              "plen": np.array(index.plen, np.uint8), "pfirst": np.array(index.pfirst),
              "plast": np.array(index.plast)}
    data = json.loads(manifest.read_text())
    for label, array in arrays.items():
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        manifest.with_name(f"{stem}.{label}.npy").write_bytes(buffer.getvalue())
        data["files"][f"{stem}.{label}.npy"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    for suffix in ("rows.bin", "blocks.npy"):
        manifest.with_name(f"{stem}.{suffix}").unlink()
        del data["files"][f"{stem}.{suffix}"]
    data["format"] = 1
    del data["block_rows"]
    manifest.write_text(json.dumps(data))


def test_format_1_partitions_still_answer(tmp_path: Path) -> None:
    rows = varied_rows(3 * BLOCK_ROWS, 6, ports=True)
    EmbeddedLogStore(tmp_path / "new").add("radius", rows)
    [old] = EmbeddedLogStore(tmp_path / "old").add("radius", rows)
    _as_format_1(old)
    assert PartitionIndex(old).format == 1
    assert PartitionIndex(old).blocks is None
    assert not verify_store(tmp_path / "old").problems
    for row in random.Random(7).sample([r for r in rows if r.end > r.start], 25):
        at = from_us(row.start)
        port = row.port_first if row.port_first >= 0 else None
        answers = [EmbeddedLogStore(tmp_path / name).lookup(row.address.network_address, at,
                                                            port=port)
                   for name in ("new", "old")]
        assert answers[0] == answers[1]
        assert answers[0]
        assert row in [m.interval for m in answers[0]]


def test_keys_search_as_opaque_bytes_in_key_order(tmp_path: Path) -> None:
    """Format 2 searches the keys as 16 big-endian bytes: every order question must come out
    as the numeric (hi, lo) order would, including halves at 0 and 2**64 - 1, keys differing
    only in their last byte, and runs of zero bytes (delegated prefixes end in them)."""
    rng = random.Random(11)
    edges = [0, 1, 255, 256, 2**63, 2**64 - 2, 2**64 - 1]
    values = {(rng.choice(edges), rng.choice(edges)) for _ in range(60)}
    values |= {(rng.getrandbits(64), rng.getrandbits(64) & ~0xFF) for _ in range(40)}
    values |= {(0x20010DB8 << 32, n) for n in range(4)}
    rows = [StoredInterval(hi=hi, lo=lo, plen=128, start=BASE + n, end=BASE + n + 10,
                           original_start=BASE + n, original_end=BASE + n + 10)
            for n, (hi, lo) in enumerate(sorted(values))
            if not (hi == 0 and lo >> 32 == 0xFFFF)]  # ::ffff:0:0/96 is IPv4's block
    [manifest] = EmbeddedLogStore(tmp_path).add("radius", rows)
    index = PartitionIndex(manifest)
    stored = list(zip(index.key["hi"].tolist(), index.key["lo"].tolist(), strict=True))
    assert stored == sorted(stored)
    assert [(r.hi, r.lo) for r in sorted(rows, key=lambda r: (r.hi, r.lo))] == stored
    for number, row in enumerate(sorted(rows, key=lambda r: (r.hi, r.lo))):
        probe = probe_arrays([Query(row.address.network_address, from_us(row.start + 5))])
        assert index.find_rows(probe) == [[number]]
