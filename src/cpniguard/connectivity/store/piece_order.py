"""The order of a table's day pieces in their partitions, computed with one 64-bit sort.

A partition's rows are in index order: by (day, hi, lo, start, plen, end), equal rows in input
order. `np.lexsort` over those six columns was most of `writer.split_table`'s time. Here each
distinct address gets its rank among the table's addresses (a sort of rows, not of pieces), so
address and start pack into one int64: rank above 37 bits of microseconds into the day (a
piece starts inside its day). One sort of that key, one stable radix pass over the day, and a
small sort of the rare runs that tie on all three (same address, same day, same start: the
pieces continuing past midnight, duplicate rows) give exactly the stable lexsort order.
Tables whose ranks or days do not fit take the lexsort itself.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cpniguard.connectivity.store.schema import DAY_US

_START_BITS = 37  # DAY_US < 2**37
_DAY_SPREAD = 1 << 16  # a uint16 day sorts by radix


def lexsorted(day: npt.NDArray[np.int64], hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64],
              start: npt.NDArray[np.int64], plen: npt.NDArray[np.uint8],
              end: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """The reference order, on pieces: what `index_order` must equal."""
    return np.lexsort((end, plen, start, lo, hi, day))


def _address_rank(hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64]
                  ) -> npt.NDArray[np.int64]:
    """Each row's rank among the distinct (hi, lo) of the table, in (hi, lo) order."""
    # A rank needs no stability: the fast unstable sort first, then a stable pass over `hi`.
    by_address = np.argsort(lo)
    if np.any(hi != hi[0]):
        by_address = by_address[np.argsort(hi[by_address], kind="stable")]
    sorted_hi, sorted_lo = hi[by_address], lo[by_address]
    changes = np.empty(len(hi), np.int64)
    changes[0] = 0
    changes[1:] = (sorted_hi[1:] != sorted_hi[:-1]) | (sorted_lo[1:] != sorted_lo[:-1])
    rank = np.empty(len(hi), np.int64)
    rank[by_address] = np.cumsum(changes)
    return rank


def index_order(day: npt.NDArray[np.int64], row: npt.NDArray[np.int64],
                start: npt.NDArray[np.int64], end: npt.NDArray[np.int64],
                hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64],
                plen: npt.NDArray[np.uint8]) -> npt.NDArray[np.intp]:
    """`lexsorted` of the pieces: piece k is `day[k]`, `start[k]`, `end[k]` of table row
    `row[k]`, whose address and length are `hi`, `lo`, `plen` (per table row)."""
    if not len(day):
        return np.empty(0, np.intp)
    rank = _address_rank(hi, lo)
    first_day = int(day.min())
    if int(rank.max()).bit_length() + _START_BITS > 63 or int(day.max()) - first_day >= _DAY_SPREAD:
        return lexsorted(day, hi[row], lo[row], start, plen[row], end)
    key = (rank[row] << _START_BITS) | (start - day * DAY_US)
    # Unstable (several times faster than a stable int64 sort): ties are settled below,
    # with the input position as the last criterion, as a stable sort would leave them.
    order = np.argsort(key)
    order = order[np.argsort((day[order] - first_day).astype(np.uint16), kind="stable")]
    return _settle_ties(order, key, day, plen[row], end)


def _settle_ties(order: npt.NDArray[np.intp], key: npt.NDArray[np.int64],
                 day: npt.NDArray[np.int64], plen: npt.NDArray[np.uint8],
                 end: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """Within each run equal on (day, address, start): by (plen, end, input position)."""
    sorted_key, sorted_day = key[order], day[order]
    tied = (sorted_key[1:] == sorted_key[:-1]) & (sorted_day[1:] == sorted_day[:-1])
    if not tied.any():
        return order
    member = np.zeros(len(order), bool)
    member[1:] |= tied
    member[:-1] |= tied
    at = np.flatnonzero(member)
    # A run starts where a member is not tied to the one before it.
    run = np.cumsum(~np.concatenate(([False], tied))[at])
    pieces = order[at]
    order = order.copy()
    order[at] = pieces[np.lexsort((pieces, end[pieces], plen[pieces], run))]
    return order
