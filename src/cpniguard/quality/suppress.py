"""Small-cell suppression: an aggregate covering fewer than k subscribers is not shown.

A count of 3 sessions on a device at 04:00 can single out a household; the policy's k (see
`config.k_anonymity`) says how many distinct subscribers a number must cover before it may be
shown outside the per-subscriber troubleshooting view. Zero is shown: it covers nobody.
Suppressed values travel as None and are printed as "< k".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def cell(value: int, covered: int, k: int) -> int | None:
    """`value` if the subscribers it covers are none or at least k, else None."""
    return None if 0 < covered < k else int(value)


def cells(values: Sequence[int] | npt.NDArray[np.int64],
          covered: Sequence[int] | npt.NDArray[np.int64], k: int) -> list[int | None]:
    return [cell(int(v), int(c), k) for v, c in zip(values, covered, strict=True)]


def shown(value: int | float | None, k: int) -> str:
    return f"< {k}" if value is None else f"{value:g}" if isinstance(value, float) \
        else str(value)


def distinct(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The sorted distinct values: `np.unique` without its hash table, which numpy 2.4 uses
    for integers and which is about 80x slower than a sort on millions of them (measured)."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    found: npt.NDArray[np.int64] = ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])]
    return found


def distinct_per_bucket(buckets: npt.NDArray[np.int64], holders: npt.NDArray[np.int64],
                        count: int) -> npt.NDArray[np.int64]:
    """How many distinct holders fall in each of `count` buckets (bucket -1 / >= count: none)."""
    inside = (buckets >= 0) & (buckets < count)
    if not inside.any():
        return np.zeros(count, dtype=np.int64)
    # One 1-D unique of bucket * width + holder: many times faster than a unique over pairs.
    width = int(holders[inside].max()) + 1
    pairs = distinct(buckets[inside].astype(np.int64) * width + holders[inside])
    return np.bincount(pairs // width, minlength=count).astype(np.int64)
