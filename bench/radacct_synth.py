"""Fictional FreeRADIUS radacct exports at benchmark scale, written the way PostgreSQL writes them.

    .venv/bin/python bench/radacct_synth.py OUT.csv --rows 1000000 [--seed 1]

`COPY radacct TO ... CSV HEADER` text: every v3.2.x column in table order, NULL as an empty
unquoted field, timestamptz as `2025-03-04 10:00:00+00`. Built in columns with numpy and written
by pyarrow, because `connectivity.generator` (one Python object per record) would need hours
for 100 million rows.

The ISP: `SUBSCRIBERS` subscribers on 16 BRAS (192.0.2.1-16), IPv4 from 198.18.0.0/15 and
100.64.0.0/15 given out at random per session, 30% dual-stack with a delegated /56 from
2001:db8::/32 (RFC 3849) that stays with the subscriber, 1% IPv6-only sessions. Sessions last
minutes to two days; 8% have no stop (still up, or the Stop was lost) and carry their last
interim update instead. Chunk k of n covers the k-th slice of the days (`days_for`: the same
sessions a day at every scale), so a series of chunks reads like successive exports.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

SUBSCRIBERS = 200_000
DAYS = 365
EPOCH_2025 = 1_735_689_600  # 2025-01-01T00:00:00Z, seconds
POOL = 1 << 18  # 198.18.0.0/15 then 100.64.0.0/15
COLUMNS = (
    "radacctid", "acctsessionid", "acctuniqueid", "username", "realm", "nasipaddress",
    "nasportid", "nasporttype", "acctstarttime", "acctupdatetime", "acctstoptime",
    "acctinterval", "acctsessiontime", "acctauthentic", "connectinfo_start", "connectinfo_stop",
    "acctinputoctets", "acctoutputoctets", "calledstationid", "callingstationid",
    "acctterminatecause", "servicetype", "framedprotocol", "framedipaddress",
    "framedipv6address", "framedipv6prefix", "framedinterfaceid", "delegatedipv6prefix",
    "class",
)
_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")
_HEX_UPPER = np.array([f"{i:02X}".encode() for i in range(256)], dtype="S2")


@dataclass(frozen=True)
class Truth:
    """What the chunk holds, for the in-RAM floor and for picking queries."""

    ipv4: npt.NDArray[np.uint32]    # 0 for IPv6-only rows
    start: npt.NDArray[np.int64]    # seconds UTC
    stop: npt.NDArray[np.int64]     # seconds UTC; -1 when NULL
    update: npt.NDArray[np.int64]


def _hex(values: npt.NDArray[np.uint8], width: int, table: npt.NDArray[np.bytes_]) -> pa.Array:
    pairs = table[values.reshape(-1, width)]
    return pa.array(pairs.view(f"S{2 * width}").ravel()).cast(pa.string())


def _ipv4_text(ip: npt.NDArray[np.uint32]) -> pa.Array:
    parts = [pa.array((ip >> shift) & 255).cast(pa.string()) for shift in (24, 16, 8, 0)]
    return pc.binary_join_element_wise(*parts, ".")


def _time_text(seconds: npt.NDArray[np.int64], present: npt.NDArray[np.bool_]) -> pa.Array:
    text = pa.array(seconds, pa.timestamp("s")).cast(pa.string())  # 2025-01-01 00:00:00
    text = pc.binary_join_element_wise(text, "+00", "")
    return pc.if_else(pa.array(present), text, pa.scalar(None, pa.string()))


def _per_subscriber() -> tuple[pa.Array, pa.Array, pa.Array]:
    numbers = np.arange(SUBSCRIBERS)
    users = pa.array([f"user{n:06d}@example.net" for n in numbers])
    mac = np.zeros((SUBSCRIBERS, 6), np.uint8)
    mac[:, 0] = 0x02  # locally administered: never a real vendor's
    mac[:, 3] = (numbers >> 16) & 255
    mac[:, 4] = (numbers >> 8) & 255
    mac[:, 5] = numbers & 255
    hexed = _HEX[mac]
    macs = pa.array([b":".join(row).decode() for row in hexed])
    prefixes = pa.array([f"2001:db8:{n >> 8:x}:{(n & 255) << 8:x}::/56" for n in numbers])
    return users, macs, prefixes


_SUBSCRIBER_COLUMNS: tuple[pa.Array, pa.Array, pa.Array] | None = None


def days_for(events: int) -> int:
    """The same ISP at every scale: about 274,000 sessions a day, 365 days at 100M events."""
    return max(1, round(DAYS * events / 100_000_000))


def chunk(rows: int, index: int, chunks: int, first_id: int, seed: int, days: int = DAYS
          ) -> tuple[pa.Table, Truth]:
    global _SUBSCRIBER_COLUMNS
    if _SUBSCRIBER_COLUMNS is None:
        _SUBSCRIBER_COLUMNS = _per_subscriber()
    users, macs, prefixes = _SUBSCRIBER_COLUMNS
    rng = np.random.default_rng([seed, index])
    span = days * 86_400 // chunks
    start = np.sort(rng.integers(0, span, rows)) + EPOCH_2025 + index * span
    long = rng.random(rows) < 0.3
    duration = np.where(long, rng.integers(3_600, 2 * 86_400, rows),
                        rng.integers(60, 4 * 3_600, rows))
    stopped = rng.random(rows) >= 0.08
    stop = start + duration
    update = np.where(stopped, stop, start + (duration // 300) * 300)
    subscriber = rng.integers(0, SUBSCRIBERS, rows)
    slot = rng.integers(0, POOL, rows).astype(np.uint32)
    ipv4 = np.where(slot < POOL // 2, (198 << 24) | (18 << 16) | slot,
                    (100 << 24) | (64 << 16) | (slot - POOL // 2)).astype(np.uint32)
    v6_only = rng.random(rows) < 0.01
    dual = (rng.random(rows) < 0.3) | v6_only
    ipv4 = np.where(v6_only, 0, ipv4).astype(np.uint32)
    ids = np.arange(first_id, first_id + rows, dtype=np.int64)
    nas = rng.integers(1, 17, rows)
    unique = rng.integers(0, 256, (rows, 16), dtype=np.uint8)
    session = ids.astype(">u4").view(np.uint8)
    sub = pa.array(subscriber)
    null = pa.nulls(rows, pa.string())
    table = pa.table({
        "radacctid": pa.array(ids),
        "acctsessionid": _hex(session, 4, _HEX_UPPER),
        "acctuniqueid": _hex(unique.ravel(), 16, _HEX),
        "username": users.take(sub),
        "realm": null,
        "nasipaddress": pc.binary_join_element_wise("192.0.2.", pa.array(nas).cast(pa.string()),
                                                    ""),
        "nasportid": pa.array(rng.integers(1, 4096, rows)).cast(pa.string()),
        "nasporttype": pa.array(np.full(rows, "Ethernet", dtype=object), pa.string()),
        "acctstarttime": _time_text(start, np.ones(rows, bool)),
        "acctupdatetime": _time_text(update, np.ones(rows, bool)),
        "acctstoptime": _time_text(stop, stopped),
        "acctinterval": pa.array(np.full(rows, 300, np.int64)),
        "acctsessiontime": pa.array(np.where(stopped, duration, update - start)),
        "acctauthentic": pa.array(np.full(rows, "RADIUS", dtype=object), pa.string()),
        "connectinfo_start": null, "connectinfo_stop": null,
        "acctinputoctets": pa.array(rng.integers(0, 1 << 34, rows)),
        "acctoutputoctets": pa.array(rng.integers(0, 1 << 36, rows)),
        "calledstationid": pc.binary_join_element_wise("bras", pa.array(nas).cast(pa.string()),
                                                       ""),
        "callingstationid": macs.take(sub),
        "acctterminatecause": pc.if_else(pa.array(stopped), "User-Request",
                                         pa.scalar(None, pa.string())),
        "servicetype": pa.array(np.full(rows, "Framed-User", dtype=object), pa.string()),
        "framedprotocol": pa.array(np.full(rows, "PPP", dtype=object), pa.string()),
        "framedipaddress": pc.if_else(pa.array(v6_only), pa.scalar(None, pa.string()),
                                      _ipv4_text(ipv4)),
        "framedipv6address": null, "framedipv6prefix": null, "framedinterfaceid": null,
        "delegatedipv6prefix": pc.if_else(pa.array(dual), prefixes.take(sub),
                                          pa.scalar(None, pa.string())),
        "class": null,
    })
    assert tuple(table.column_names) == COLUMNS
    return table, Truth(ipv4, start, np.where(stopped, stop, -1), update)


def write(path: Path, table: pa.Table) -> None:
    # No value here needs quotes (no comma, quote or newline), so none are written: COPY quotes
    # only what needs it, and pyarrow's default would quote every string.
    with path.open("wb") as handle:
        handle.write((",".join(table.column_names) + "\n").encode())
        pv.write_csv(table, handle, pv.WriteOptions(quoting_style="none", include_header=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--index", type=int, default=0, help="this chunk's number, from 0")
    parser.add_argument("--chunks", type=int, default=1)
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--truth", type=Path, help="also save what the chunk holds (.npz)")
    args = parser.parse_args()
    table, truth = chunk(args.rows, args.index, args.chunks, args.index * args.rows + 1,
                         args.seed, args.days)
    write(args.out, table)
    if args.truth:
        np.savez(args.truth, ipv4=truth.ipv4, start=truth.start, stop=truth.stop,
                 update=truth.update)


if __name__ == "__main__":
    main()
