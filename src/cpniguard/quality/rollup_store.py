"""Keeping a day's rollup on disk: where, when it is fresh, how it is written and removed.

- **Where**: the rollup counts every source of the day together (a POP's NAS, DHCP server
  and CGNAT box are one group), so one copy is written in each source's directory of that
  day, under a `.derived.*` name: a purge or a drop of any source's day removes that copy in
  the same locked step as the digest (`store.drop_partition`, `purge.purge_day`), and the
  copies left in the other sources' directories are stale from then on (below) and are never
  read; the next read of the day rebuilds them all from what is left.
- **Fresh**: it records the SHA-256 of every manifest of every source's directory of the day
  (and of a neighbouring day when an incident's evidence was read there), and a fingerprint
  of the network.toml settings it depends on (POPs, access devices, pools, CGNAT pools,
  outage rule). A reader recomputes both and uses the rollup only when they are equal;
  anything else (missing, damaged, another format, a new source, a changed file) is rebuilt
  when the store's lock is free, else the caller takes the digest path.
- **Written**: from the day's session digests, outside the lock (it takes seconds at a large
  ISP); then, under the store's write lock, only if the manifests are still those it was
  built from; each copy under a temp name, fsynced and renamed (`writer.atomic_write`).
- **Switches**: `CPNIGUARD_QUALITY_DIGEST=off` (the raw path, the reference) turns rollups
  off too; `CPNIGUARD_QUALITY_ROLLUP=off` keeps the digests and skips the rollups.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from cpniguard.connectivity.network import cgnat_pools
from cpniguard.connectivity.store.writer import atomic_write, day_name
from cpniguard.quality import config
from cpniguard.quality.digest import enabled as digests_enabled
from cpniguard.quality.digest import read_day
from cpniguard.quality.digest_write import LockBusy, built_from, store_lock
from cpniguard.quality.rollup_build import compute, day_span

ROLLUP_NAME = ".derived.quality-rollup.parquet"  # store: `.derived.*` goes with its rows
FORMAT = 1
META_KEY = b"cpniguard.quality_rollup"
SWITCH = "CPNIGUARD_QUALITY_ROLLUP"
Ints = npt.NDArray[np.int64]


def enabled() -> bool:
    return digests_enabled() and os.environ.get(SWITCH, "on").strip().lower() not in (
        "off", "0", "no", "false")


@dataclass(frozen=True)
class Rollup:
    arrays: dict[str, Ints]
    meta: dict[str, Any]


def fingerprint() -> str:
    """The network.toml settings a rollup's figures depend on (k is applied when read)."""
    topology, rule = config.topology(), config.outage_rule()
    settings = {
        "pops": sorted(topology.pops.items()), "access": list(topology.access_prefixes),
        "pattern": topology.access_pattern,
        "pools": [[p.name, [str(n) for n in p.networks], p.device, p.warn_at]
                  for p in config.pools()],
        "rule": [rule.min_sessions, rule.min_share, rule.window_seconds],
        "cgnat": [str(n) for n in cgnat_pools()],
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _sources(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def manifests(root: Path, days: list[int]) -> dict[str, str]:
    """"<source>/<day>/<manifest>" -> SHA-256, over every source, for `days`."""
    found: dict[str, str] = {}
    for source in _sources(root):
        for day in days:
            name = day_name(day)
            for manifest, digest in built_from(source / name).items():
                found[f"{source.name}/{name}/{manifest}"] = digest
    return found


def _copies(root: Path, day: int) -> list[Path]:
    """The rollup's place in each source's directory of the day that holds partitions."""
    name = day_name(day)
    return [source / name / ROLLUP_NAME for source in _sources(root)
            if built_from(source / name)]


def _bytes(arrays: dict[str, Ints], meta: dict[str, Any]) -> bytes:
    keys = sorted(arrays)
    flat = [arrays[k].astype(np.int64).ravel() for k in keys]
    offsets = np.concatenate([[0], np.cumsum([len(f) for f in flat])]).astype(np.int64)
    values = pa.LargeListArray.from_arrays(
        pa.array(offsets, pa.int64()),
        pa.array(np.concatenate(flat) if flat else np.zeros(0, np.int64), pa.int64()))
    table = pa.table({"key": pa.array(keys, pa.string()),
                      "rows": pa.array([arrays[k].shape[0] for k in keys], pa.int32()),
                      "cols": pa.array([arrays[k].shape[1] for k in keys], pa.int32()),
                      "values": values})
    table = table.replace_schema_metadata({META_KEY: json.dumps(meta)})   # keeps key order
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def _meta(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((pq.read_schema(path).metadata or {})[META_KEY])
    except (OSError, KeyError, ValueError, pa.ArrowInvalid):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def _fresh_meta(root: Path, day: int) -> tuple[Path, dict[str, Any]] | None:
    copies = _copies(root, day)
    if not copies:
        return None
    meta = _meta(copies[0])
    if meta is None or meta.get("config") != fingerprint():
        return None
    days = [int(d) for d in meta.get("days", [])]
    if meta.get("built_from") != manifests(root, days) or day not in days:
        return None
    return copies[0], meta


def load(root: Path, day: int) -> Rollup | None:
    """The day's rollup when fresh, else None."""
    found = _fresh_meta(root, day)
    if found is None:
        return None
    try:
        table = pq.read_table(found[0])
        values = table.column("values").combine_chunks()
        flat = values.values.to_numpy()
        offsets = values.offsets.to_numpy()
        arrays = {key: flat[offsets[n]:offsets[n + 1]].reshape(rows, cols)
                  for n, (key, rows, cols) in enumerate(zip(
                      table.column("key").to_pylist(), table.column("rows").to_pylist(),
                      table.column("cols").to_pylist(), strict=True))}
    except (OSError, KeyError, ValueError, pa.ArrowInvalid):
        return None   # removed by a purge since it was checked, or not what it claims
    return Rollup(arrays, found[1])


def build(root: Path, day: int, *, wait: bool = False) -> bool:
    """Write the day's rollup from its digests; True when written. LockBusy when the store
    is locked and `wait` is False."""
    root = Path(root)
    before = manifests(root, [day])
    if not before:
        return False
    found = read_day(root, day_span(day))
    if found is None:
        return False
    arrays, meta = compute(root, found[0], found[1], day,
                           lambda days: manifests(root, days))
    extra = meta.pop("extra_manifests")
    days = sorted({day, *(_day(key) for key in extra)})
    meta.update(format=FORMAT, day=day_name(day), days=days, config=fingerprint(),
                built_from={**before, **extra})
    data = _bytes(arrays, meta)
    with store_lock(root, wait=wait):
        if manifests(root, days) != meta["built_from"]:
            return False    # changed while it was counted: the next read builds it again
        for path in _copies(root, day):
            atomic_write(path, data)
    return True


def _day(key: str) -> int:
    from datetime import date

    return (date.fromisoformat(key.split("/")[1]) - date(1970, 1, 1)).days


def fresh(root: Path, day: int, *, rebuild: bool = True) -> Rollup | None:
    """The day's rollup, rebuilt first when missing or stale and the lock is free."""
    loaded = load(root, day)
    if loaded is not None or not rebuild:
        return loaded
    try:
        if not build(root, day):
            return None
    except (LockBusy, OSError):
        return None
    return load(root, day)


def build_all(root: Path) -> int:
    """Every missing or stale rollup of the store (the bench, or a command)."""
    root = Path(root)
    days: set[int] = set()
    for source in _sources(root):
        for directory in source.iterdir():
            try:
                days.add(_day(f"{source.name}/{directory.name}"))
            except ValueError:   # not a day directory
                continue
    return sum(load(root, day) is None and build(root, day, wait=True) for day in sorted(days))
