"""Day pieces in index order: the packed sort equals the six-column stable lexsort."""

from __future__ import annotations

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from cpniguard.connectivity.store.piece_order import index_order, lexsorted
from cpniguard.connectivity.store.schema import DAY_US, OPEN_END
from cpniguard.connectivity.store.writer import day_name, split_table, table_days

# Few distinct values per column, so ties on every criterion are common.
_HIS = [0, 1, 0x20010DB8 << 32, 2**64 - 1]
_LOS = [0, 0xFFFF << 32 | 0xC6120001, 0xFFFF << 32 | 0xC6120002, 2**64 - 1]


@st.composite
def pieces(draw: st.DrawFn) -> dict[str, np.ndarray]:
    rows = draw(st.integers(1, 12))
    hi = np.array(draw(st.lists(st.sampled_from(_HIS), min_size=rows, max_size=rows)), np.uint64)
    lo = np.array(draw(st.lists(st.sampled_from(_LOS), min_size=rows, max_size=rows)), np.uint64)
    plen = np.array(draw(st.lists(st.sampled_from([56, 64, 120, 128]), min_size=rows,
                                  max_size=rows)), np.uint8)
    count = draw(st.integers(1, 40))
    row = np.array(draw(st.lists(st.integers(0, rows - 1), min_size=count, max_size=count)))
    # Days close together, or far apart (past the radix pass's range: the lexsort fallback).
    spread = draw(st.sampled_from([3, 70_000]))
    day = np.array(draw(st.lists(st.integers(0, spread), min_size=count, max_size=count)),
                   np.int64) + 20_000
    offset = np.array(draw(st.lists(st.sampled_from([0, 1, 5_000, DAY_US - 1]),
                                    min_size=count, max_size=count)), np.int64)
    length = np.array(draw(st.lists(st.sampled_from([1, 2, 9, 0]), min_size=count,
                                    max_size=count)), np.int64)
    start = day * DAY_US + offset
    end = np.where(length == 0, OPEN_END, start + length)  # 0 stands for an open interval
    return {"day": day, "row": row, "start": start, "end": end,
            "hi": hi, "lo": lo, "plen": plen}


@settings(max_examples=400, deadline=None)
@given(pieces())
def test_packed_order_equals_the_lexsort(p: dict[str, np.ndarray]) -> None:
    row = p["row"]
    expected = lexsorted(p["day"], p["hi"][row], p["lo"][row], p["start"], p["plen"][row],
                         p["end"])
    got = index_order(p["day"], row, p["start"], p["end"], p["hi"], p["lo"], p["plen"])
    assert got.tolist() == expected.tolist()


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    count = draw(st.integers(1, 30))
    start = np.array(draw(st.lists(st.integers(0, 4 * DAY_US), min_size=count,
                                   max_size=count)), np.int64) + 20_000 * DAY_US
    length = np.array(draw(st.lists(st.sampled_from([1, 60_000_000, DAY_US, 3 * DAY_US, -1]),
                                    min_size=count, max_size=count)), np.int64)
    end = np.where(length < 0, OPEN_END, start + np.abs(length))
    seen = [None if draw(st.booleans()) else int(s) + draw(st.integers(0, 2 * DAY_US))
            for s in start]
    pick = draw(st.lists(st.integers(0, 3), min_size=count, max_size=count))
    return pa.table({
        "hi": pa.array([_HIS[k] for k in pick], pa.uint64()),
        "lo": pa.array([_LOS[k] for k in pick], pa.uint64()),
        "plen": pa.array([128] * count, pa.uint8()),
        "start": pa.array(start), "end": pa.array(end),
        "last_seen": pa.array(seen, pa.int64()),
        "terminate_cause": pa.array(["User-Request"] * count),
        "octets_in": pa.array(range(count), pa.int64()),
        "octets_out": pa.array(range(count), pa.int64()),
        "line": pa.array(range(count), pa.int64()),
    })


@settings(max_examples=200, deadline=None)
@given(tables())
def test_the_days_named_are_the_days_written(table: pa.Table) -> None:
    written = [day for day, _ in split_table(table)]
    assert table_days(table) == [day_name(day) for day in written]
    assert written == sorted(set(written))
