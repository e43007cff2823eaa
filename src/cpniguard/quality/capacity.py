"""Capacity: address pools and CGNAT port blocks, in use against what exists.

Pools are declared in network.toml (`config.pools`); their addresses in use are counted from
the stored holdings (rows, not sessions: a session that changed address held each address
only for its part). CGNAT capacity is per public address: 64,512 ports above 1023, divided
into blocks of the size the logs show; a public address whose blocks are nearly all taken
refuses the next subscriber put behind it. The CGNAT pools attribution already knows
(`cgnat_public_pools`) are also summed as groups: blocks in use at the pool's peak against
every block its addresses can hold.

Everything here is columns: a day of a large ISP is millions of holdings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]

from cpniguard.connectivity.network import Network
from cpniguard.connectivity.store.schema import OPEN_END, address_key, key_network
from cpniguard.quality.config import Pool
from cpniguard.quality.folding import Folded
from cpniguard.quality.network import Buckets
from cpniguard.quality.suppress import cell, cells, distinct

NAT_PORTS = 65536 - 1024
Ints = npt.NDArray[np.int64]
Words = npt.NDArray[np.uint64]


@dataclass(frozen=True)
class Holdings:
    """One stored row each, with its effective end: an open row ends where its session does."""

    hi: Words
    lo: Words
    plen: Ints
    start: Ints
    finish: Ints
    holder: Ints
    device: Ints
    port_first: Ints
    port_last: Ints
    device_names: list[str]


def holdings(table: pa.Table, folded: Folded) -> Holdings:
    end = table.column("original_end").to_numpy().astype(np.int64)
    start = table.column("original_start").to_numpy().astype(np.int64)
    session = folded.row_session
    finish = np.where(end == OPEN_END, folded.finish[session] if len(session) else end, end)
    return Holdings(
        table.column("hi").to_numpy().astype(np.uint64),
        table.column("lo").to_numpy().astype(np.uint64),
        table.column("plen").to_numpy().astype(np.int64), start, finish,
        folded.holder[session], folded.device[session],
        table.column("port_first").to_numpy().astype(np.int64),
        table.column("port_last").to_numpy().astype(np.int64), folded.device_names)


def _inside(held: Holdings, networks: tuple[Network, ...]) -> npt.NDArray[np.bool_]:
    """Rows whose address lies in any of `networks` (128-bit range test on the key halves)."""
    found = np.zeros(len(held.hi), dtype=bool)
    for network in networks:
        hi, lo, plen = address_key(network)
        first = (hi << 64) | lo
        last = first | ((1 << (128 - plen)) - 1)
        a_hi, a_lo = np.uint64(first >> 64), np.uint64(first & (2**64 - 1))
        b_hi, b_lo = np.uint64(last >> 64), np.uint64(last & (2**64 - 1))
        above = (held.hi > a_hi) | ((held.hi == a_hi) & (held.lo >= a_lo))
        below = (held.hi < b_hi) | ((held.hi == b_hi) & (held.lo <= b_lo))
        found |= above & below
    return found


def _in_use(starts: Ints, finishes: Ints, samples: Ints) -> Ints:
    return (np.searchsorted(np.sort(starts), samples, side="right")
            - np.searchsorted(np.sort(finishes), samples, side="right")).astype(np.int64)


def _peaks(segment: Ints, starts: Ints, finishes: Ints, count: int) -> Ints:
    """The most intervals up at once, per segment (0..count-1). At one instant an end comes
    before a start: the intervals are half-open."""
    if not len(starts):
        return np.zeros(count, dtype=np.int64)
    times = np.concatenate([starts, finishes])
    steps = np.concatenate([np.ones(len(starts), np.int64), -np.ones(len(finishes), np.int64)])
    where = np.concatenate([segment, segment])
    order = np.lexsort((steps, times, where))
    where, level = where[order], np.cumsum(steps[order])
    first = np.flatnonzero(np.concatenate([[True], where[1:] != where[:-1]]))
    before = np.concatenate([[0], level[first[1:] - 1]])
    relative = level - np.repeat(before, np.diff(np.concatenate([first, [len(level)]])))
    peaks = np.zeros(count, dtype=np.int64)
    peaks[where[first]] = np.maximum.reduceat(relative, first)
    return np.maximum(peaks, 0)


def _window(held: Holdings, mask: npt.NDArray[np.bool_], buckets: Buckets
            ) -> npt.NDArray[np.bool_]:
    return mask & (held.start < buckets.until) & (held.finish > buckets.since)


@dataclass(frozen=True)
class PoolCounts:
    """A pool's figures before the k rule: addresses in use at each sample, its holders."""

    in_use: Ints
    holders: int
    peak: int


def pool_counts(pool: Pool, held: Holdings, buckets: Buckets, samples: Ints | None = None
                ) -> PoolCounts:
    mine = (held.plen == 128) & (held.port_first < 0) & _inside(held, pool.networks)
    if pool.device:
        wanted = [n for n, name in enumerate(held.device_names) if name == pool.device]
        mine &= np.isin(held.device, wanted)
    mine = _window(held, mine, buckets)
    starts, finishes = held.start[mine], held.finish[mine]
    series = _in_use(starts, finishes, buckets.starts() if samples is None else samples)
    peak = int(_peaks(np.zeros(len(starts), np.int64), np.maximum(starts, buckets.since),
                      np.minimum(finishes, buckets.until), 1)[0])
    return PoolCounts(series, len(distinct(held.holder[mine])), peak)


def present_pool(pool: Pool, counts: PoolCounts, k: int) -> dict[str, Any]:
    peak, holders, series = counts.peak, counts.holders, counts.in_use
    share = peak / pool.capacity if pool.capacity else 0.0
    shown = cell(peak, holders, k)
    return {
        "pool": pool.name, "device": pool.device,
        "networks": [str(n) for n in pool.networks], "capacity": pool.capacity,
        "peak_in_use": shown, "peak_share": round(share, 4) if shown is not None else None,
        "warn_at": pool.warn_at, "warning": share >= pool.warn_at,
        # Sampled at the start of each bucket; per-sample suppression uses the pool's holders.
        "series": {"in_use": cells(series, [holders] * len(series), k)},
    }


def pool_usage(pool: Pool, held: Holdings, buckets: Buckets, k: int) -> dict[str, Any]:
    return present_pool(pool, pool_counts(pool, held, buckets), k)


def port_blocks(held: Holdings, buckets: Buckets, k: int, warn_at: float = 0.9,
                top: int = 20, cgnat_pools: tuple[Network, ...] = ()) -> dict[str, Any]:
    """Per public address: peak blocks in use against the blocks it can hold; per CGNAT pool,
    the same summed over its addresses."""
    return present_port_blocks(port_block_counts(held, buckets, warn_at, top, cgnat_pools), k)


def present_port_blocks(counts: dict[str, Any], k: int) -> dict[str, Any]:
    """`port_block_counts` with k applied: a peak over 1..k-1 holders is not shown, nor its
    share."""
    def row(found: dict[str, Any]) -> dict[str, Any]:
        shown = cell(1, found["holders"], k) is not None
        return {key: (found["peak_blocks"] if shown else None) if key == "peak_blocks"
                else (found["share"] if shown else None) if key == "share" else value
                for key, value in found.items() if key != "holders"}

    return {"addresses": counts["addresses"], "block_capacity": counts["block_capacity"],
            "peak_blocks_sum": cell(counts["peak_blocks_sum"], counts["holders"], k),
            "warnings": counts["warnings"], "warn_at": counts["warn_at"],
            "top": [row(r) for r in counts["top"]], "pools": [row(r) for r in counts["pools"]]}


def port_block_counts(held: Holdings, buckets: Buckets, warn_at: float = 0.9, top: int = 20,
                      cgnat_pools: tuple[Network, ...] = ()) -> dict[str, Any]:
    """`port_blocks` before the k rule: each peak with its distinct holders (`holders`)."""
    mine = np.flatnonzero(_window(held, held.port_first >= 0, buckets))
    keys = np.stack([held.hi[mine].view(np.int64), held.lo[mine].view(np.int64)], axis=1)
    if not len(mine):
        return {"addresses": 0, "block_capacity": 0, "peak_blocks_sum": 0, "holders": 0,
                "warnings": 0, "warn_at": warn_at, "top": [], "pools": []}
    # The public address of each row, numbered: one lexsort on the halves (a unique over
    # rows sorts structured values, far slower).
    order = np.lexsort((keys[:, 1], keys[:, 0]))
    ordered = keys[order]
    new = np.concatenate([[True], (ordered[1:] != ordered[:-1]).any(axis=1)])
    address = np.empty(len(order), dtype=np.int64)
    address[order] = np.cumsum(new) - 1
    unique = ordered[new]
    count = len(unique)
    sizes = held.port_last[mine] - held.port_first[mine] + 1
    # Pairs as one integer (a block is at most 65,536 ports): 1-D sorts, not row sorts.
    keyed, times = np.unique(address * 65537 + sizes, return_counts=True)
    pair_address, pair_size = keyed // 65537, keyed % 65537
    # The size most blocks of an address have (ties: the smaller).
    chosen = np.lexsort((pair_size, -times, pair_address))
    firsts = chosen[np.concatenate([[True], pair_address[chosen][1:] != pair_address[chosen][:-1]])]
    size = np.zeros(count, dtype=np.int64)
    size[pair_address[firsts]] = pair_size[firsts]
    capacity = NAT_PORTS // size
    starts = np.maximum(held.start[mine], buckets.since)
    finishes = np.minimum(held.finish[mine], buckets.until)
    peak = _peaks(address, starts, finishes, count)
    width = int(held.holder[mine].max()) + 1
    holders = np.bincount(distinct(address * width + held.holder[mine]) // width,
                          minlength=count)
    share = peak / capacity
    ranked = np.lexsort((np.arange(count), -share))[:top]
    names = [str(key_network(int(h), int(lo_), 128)).split("/")[0]
             for h, lo_ in unique[ranked].view(np.uint64).tolist()]
    found = [{"address": name, "block_size": int(size[n]),
              "capacity_blocks": int(capacity[n]), "peak_blocks": int(peak[n]),
              "share": round(float(share[n]), 4), "warning": bool(share[n] >= warn_at),
              "holders": int(holders[n])}
             for n, name in zip(ranked.tolist(), names, strict=True)]
    return {"addresses": count, "block_capacity": int(capacity.sum()),
            "peak_blocks_sum": int(peak.sum()), "holders": len(distinct(held.holder[mine])),
            "warnings": int((share >= warn_at).sum()), "warn_at": warn_at, "top": found,
            "pools": _cgnat_pools(held, mine, address, capacity, starts, finishes,
                                  cgnat_pools, warn_at)}


def _cgnat_pools(held: Holdings, mine: Ints, address: Ints, capacity: Ints, starts: Ints,
                 finishes: Ints, networks: tuple[Network, ...], warn_at: float
                 ) -> list[dict[str, Any]]:
    rows = []
    for network in networks:
        inside = _inside(held, (network,))[mine]
        blocks = int(capacity[distinct(address[inside])].sum())
        peak = int(_peaks(np.zeros(int(inside.sum()), np.int64), starts[inside],
                          finishes[inside], 1)[0])
        holders = len(distinct(held.holder[mine][inside]))
        share = peak / blocks if blocks else 0.0
        rows.append({"pool": str(network), "level": "cgnat-pool",
                     "addresses": len(distinct(address[inside])),
                     "capacity_blocks": blocks, "peak_blocks": peak,
                     "share": round(share, 4), "warning": share >= warn_at,
                     "holders": holders})
    return rows
