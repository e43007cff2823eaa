"""Capacity: address pools and CGNAT port blocks, in use against what exists.

Pools are declared in network.toml (`config.pools`); their addresses in use are counted from
the stored holdings (rows, not sessions: a session that changed address held each address
only for its part). CGNAT capacity is per public address: 64,512 ports above 1023, divided
into blocks of the size the logs show; a public address whose blocks are nearly all taken
refuses the next subscriber put behind it.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]

from cpniguard.connectivity.store.schema import OPEN_END, key_network
from cpniguard.quality.config import Pool
from cpniguard.quality.network import Buckets
from cpniguard.quality.sessions import Session, holder_of
from cpniguard.quality.suppress import cell, cells

NAT_PORTS = 65536 - 1024


@dataclass(frozen=True, slots=True)
class Holding:
    address: str
    start: int
    finish: int
    holder: str
    device: str
    ports: tuple[int, int] | None


def holdings(table: pa.Table, sessions: list[Session]) -> list[Holding]:
    """Each row with its effective end: an open row ends where its session does."""
    finish_of: dict[int, int] = {r: s.finish for s in sessions for r in s.rows}
    device_of: dict[int, str] = {r: s.device for s in sessions for r in s.rows}
    found = []
    for number, record in enumerate(table.to_pylist()):
        end = record["original_end"]
        finish = finish_of.get(number, record["original_start"]) if end == OPEN_END else end
        ports = (record["port_first"], record["port_last"]) if record["port_first"] >= 0 \
            else None
        found.append(Holding(str(key_network(record["hi"], record["lo"], record["plen"])),
                             record["original_start"], finish, holder_of(record),
                             device_of.get(number, record["device"]), ports))
    return found


def _in_use(starts: npt.NDArray[np.int64], finishes: npt.NDArray[np.int64],
            samples: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return (np.searchsorted(np.sort(starts), samples, side="right")
            - np.searchsorted(np.sort(finishes), samples, side="right")).astype(np.int64)


def _peak(starts: list[int], finishes: list[int]) -> int:
    events = sorted([(s, 1) for s in starts] + [(f, -1) for f in finishes])
    level = peak = 0
    for _, step in events:  # ends sort before starts at one instant: half-open intervals
        level += step
        peak = max(peak, level)
    return peak


def pool_usage(pool: Pool, held: list[Holding], buckets: Buckets, k: int) -> dict[str, Any]:
    mine = []
    for holding in held:
        single = holding.address.endswith(("/32", "/128"))
        if holding.ports is not None or not single:
            continue
        if pool.device and holding.device != pool.device:
            continue
        address = ipaddress.ip_address(holding.address.split("/")[0])
        if any(address.version == n.version and address in n for n in pool.networks) \
                and holding.start < buckets.until and holding.finish > buckets.since:
            mine.append(holding)
    starts = np.array([h.start for h in mine], dtype=np.int64)
    finishes = np.array([h.finish for h in mine], dtype=np.int64)
    series = _in_use(starts, finishes, buckets.starts())
    holders = len({h.holder for h in mine})
    peak = _peak([max(h.start, buckets.since) for h in mine],
                 [min(h.finish, buckets.until) for h in mine])
    share = peak / pool.capacity if pool.capacity else 0.0
    return {
        "pool": pool.name, "device": pool.device,
        "networks": [str(n) for n in pool.networks], "capacity": pool.capacity,
        "peak_in_use": cell(peak, holders, k),
        "peak_share": round(share, 4) if cell(peak, holders, k) is not None else None,
        "warn_at": pool.warn_at,
        "warning": share >= pool.warn_at,
        # Sampled at the start of each bucket; per-sample suppression uses the pool's holders.
        "series": {"in_use": cells(series, [holders] * len(series), k)},
    }


def port_blocks(held: list[Holding], buckets: Buckets, k: int,
                warn_at: float = 0.9, top: int = 20) -> dict[str, Any]:
    """Per public address: peak blocks in use against the blocks it can hold."""
    by_address: dict[str, list[Holding]] = {}
    for holding in held:
        if holding.ports is not None and holding.start < buckets.until \
                and holding.finish > buckets.since:
            by_address.setdefault(holding.address, []).append(holding)
    rows: list[dict[str, Any]] = []
    total_peak = total_capacity = 0
    all_holders: set[str] = set()
    for address, blocks in by_address.items():
        sizes = Counter(h.ports[1] - h.ports[0] + 1 for h in blocks if h.ports)
        size = sizes.most_common(1)[0][0]
        capacity = NAT_PORTS // size
        peak = _peak([max(h.start, buckets.since) for h in blocks],
                     [min(h.finish, buckets.until) for h in blocks])
        holders = {h.holder for h in blocks}
        all_holders |= holders
        total_peak, total_capacity = total_peak + peak, total_capacity + capacity
        rows.append({"address": address.split("/")[0], "block_size": size,
                     "capacity_blocks": capacity, "peak_blocks": peak,
                     "share": peak / capacity, "holders": len(holders)})
    rows.sort(key=lambda r: (-r["share"], r["address"]))
    shown = [{**row, "peak_blocks": cell(row["peak_blocks"], row["holders"], k),
              "share": round(row["share"], 4) if cell(1, row["holders"], k) is not None
              else None, "warning": row["share"] >= warn_at}
             for row in rows[:top]]
    for row in shown:
        row.pop("holders")
    return {"addresses": len(rows), "block_capacity": total_capacity,
            "peak_blocks_sum": cell(total_peak, len(all_holders), k),
            "warnings": sum(1 for row in rows if row["share"] >= warn_at),
            "warn_at": warn_at, "top": shown}
