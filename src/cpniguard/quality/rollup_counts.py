"""A whole day's network-view counts at every resolution, for every group of a level at once.

`groups.view_counts` and `network_usage.group_counts` count one group's sessions at one
resolution. A day's rollup (`rollup_build`) needs those counts for every group (each NAS, POP,
access device, and the whole network) at every resolution the view offers (1 min to 1 day), so
here the same figures are made for all groups and all resolutions in a few sorts:

- a count per bucket adds up: it is kept per minute (the finest resolution; every coarser
  bucket of a day is a whole number of minutes from midnight) and summed when read;
- distinct subscribers do not add up across buckets, so they are counted exactly at each
  resolution: one sort of (group, holder, minute) per figure, then one pass per resolution
  counting the (group, holder, bucket) triples;
- sessions up at a bucket's start (and distinct subscribers up there) are counted at every
  minute's start, the samples of every coarser resolution being among them. A session is up
  at sample m when start <= t_m < finish, that is when ceil((start - midnight) / 1 min) <= m
  and ceil((finish - midnight) / 1 min) > m, so both become small integers; a holder's
  sessions are merged in that integer space before counting holders.

Everything is exact: these are the same counts, not estimates (tested against the views).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cpniguard.connectivity.store.schema import DAY_US
from cpniguard.quality.network import RESOLUTIONS

Ints = npt.NDArray[np.int64]
MINUTE = 60_000_000
MINUTES = DAY_US // MINUTE
FACTORS = tuple(sorted(seconds // 60 for seconds in RESOLUTIONS.values()))  # 1 .. 1440


@dataclass
class Counts:
    """Named 2-D arrays (groups x minutes or buckets) of one level."""

    groups: int
    arrays: dict[str, Ints] = field(default_factory=dict)


def factor_of(seconds: int) -> int:
    """Minutes per bucket of a resolution."""
    if seconds % 60 or MINUTES % (seconds // 60):
        raise ValueError(f"no day rollup at {seconds} s")
    return seconds // 60


def _ceil_minutes(instant: Ints, since: int) -> Ints:
    return np.clip(-((since - instant) // MINUTE), 0, MINUTES).astype(np.int64)


def _cumulative(group: Ints, minute: Ints, groups: int) -> Ints:
    """Per group, how many of the values are <= m, for each sample m."""
    found = np.bincount(group * (MINUTES + 1) + minute, minlength=groups * (MINUTES + 1))
    return np.cumsum(found.reshape(groups, MINUTES + 1), axis=1)[:, :MINUTES].astype(np.int64)


def up_counts(counts: Counts, group: Ints, holder: Ints, start: Ints, finish: Ints,
              since: int) -> None:
    """`active` (sessions up) and `covered` (distinct holders up) at each minute's start."""
    kept = group >= 0
    g, h = group[kept], holder[kept]
    first, last = _ceil_minutes(start[kept], since), _ceil_minutes(finish[kept], since)
    counts.arrays["active"] = (_cumulative(g, first, counts.groups)
                               - _cumulative(g, last, counts.groups))
    # A holder's sessions merged: sort by (group, holder, first sample), then a running
    # maximum of the last sample within each (group, holder) says where a gap begins.
    useful = first < last
    g, h, first, last = g[useful], h[useful], first[useful], last[useful]
    if not len(g):
        counts.arrays["covered"] = np.zeros((counts.groups, MINUTES), dtype=np.int64)
        return
    width = int(h.max()) + 1 if len(h) else 1
    who = g * width + h
    order = np.argsort(who * (MINUTES + 1) + first, kind="stable")
    who, first, last = who[order], first[order], last[order]
    new_who = np.ones(len(who), dtype=bool)
    new_who[1:] = who[1:] != who[:-1]
    segment = np.cumsum(new_who) - 1
    running = np.maximum.accumulate(segment * (MINUTES + 2) + last) - segment * (MINUTES + 2)
    previous = np.concatenate([[-1], running[:-1]]).astype(np.int64)
    begins = np.flatnonzero(new_who | (first > previous))
    ends_at = np.concatenate([begins[1:], [len(who)]]).astype(np.int64) - 1
    piece_group = who[begins] // width
    counts.arrays["covered"] = (_cumulative(piece_group, first[begins], counts.groups)
                                - _cumulative(piece_group, running[ends_at], counts.groups))


def event_counts(counts: Counts, name: str, group: Ints, holder: Ints, instant: Ints,
                 since: int, sums: dict[str, Ints] | None = None) -> None:
    """Events (a session begun, ended, a reading) per minute of the day, `<name>|n`, or the
    sums of `sums` per minute, `<name>|<key>`; and the distinct holders per bucket of each
    resolution, `<name>|d<minutes per bucket>`."""
    inside = (group >= 0) & (instant >= since) & (instant < since + DAY_US)
    g, h = group[inside], holder[inside]
    minute = (instant[inside] - since) // MINUTE
    flat = g * MINUTES + minute
    size = counts.groups * MINUTES
    if sums is None:
        counts.arrays[f"{name}|n"] = np.bincount(flat, minlength=size).astype(
            np.int64).reshape(counts.groups, MINUTES)
    else:
        for key, values in sums.items():
            total = np.zeros(size, dtype=np.int64)
            np.add.at(total, flat, values[inside])
            counts.arrays[f"{name}|{key}"] = total.reshape(counts.groups, MINUTES)
    width = int(h.max()) + 1 if len(h) else 1
    ordered = np.sort((g * width + h) * MINUTES + minute)
    who, minute = ordered // MINUTES, ordered % MINUTES
    owner = who // width
    for factor in FACTORS:
        bucket = minute // factor
        new = np.ones(len(ordered), dtype=bool)
        new[1:] = (who[1:] != who[:-1]) | (bucket[1:] != bucket[:-1])
        per = MINUTES // factor
        counts.arrays[f"{name}|d{factor}"] = np.bincount(
            owner[new] * per + bucket[new], minlength=counts.groups * per).astype(
                np.int64).reshape(counts.groups, per)


def split(counts: Counts, name: str, parts: int) -> list[dict[str, Ints]]:
    """Arrays counted over (group x part) combined groups -> one dict of arrays per part."""
    found: list[dict[str, Ints]] = [{} for _ in range(parts)]
    groups = counts.groups // parts
    for key, array in counts.arrays.items():
        if key.startswith(f"{name}|"):
            shaped = array.reshape(groups, parts, array.shape[1])
            for part in range(parts):
                found[part][key] = np.ascontiguousarray(shaped[:, part, :])
    return found


def distinct_per_group(group: Ints, holder: Ints, groups: int) -> Ints:
    kept = group >= 0
    width = int(holder[kept].max()) + 1 if kept.any() else 1
    pairs = np.sort(group[kept] * width + holder[kept])
    if len(pairs):
        pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])]
    return np.bincount(pairs // width, minlength=groups).astype(np.int64)


def reshaped(array: Ints, factor: int) -> Ints:
    """Per-minute counts of one group summed into buckets of `factor` minutes."""
    found: Ints = array.reshape(MINUTES // factor, factor).sum(axis=1).astype(np.int64)
    return found
