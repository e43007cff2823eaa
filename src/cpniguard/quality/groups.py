"""Groups of sessions the NOC thinks in: per NAS, per access device, per POP.

A session belongs to the NAS (or DHCP server, or CGNAT box) that logged it; that device's POP
comes from network.toml (`config.Topology`; a device no POP claims is a group of its own); its
access device (OLT, DSLAM, CMTS) from the circuit id its lease carried (DHCP option 82), by
declared prefix or by pattern. The store keeps no RADIUS NAS-Port-Id, so sessions known only
from RADIUS have no access device.

`group_view` gives each group the figures `network.device_view` gives a device, computed over
the folded columns (`folding.Folded`) rather than `Session` objects, so that a day of a large
ISP takes a fraction of a second. Distinct subscribers (for the k threshold) are counted
exactly: a subscriber is up at an instant when the union of their sessions covers it, and
those unions are found with one sort, not one set per sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from cpniguard.quality.config import Topology
from cpniguard.quality.folding import KINDS, NAS_RESTART, NO_STOP, OPEN, STOP, Folded
from cpniguard.quality.network import Buckets
from cpniguard.quality.suppress import cell, distinct, distinct_per_bucket

Ints = npt.NDArray[np.int64]
LEVELS = ("nas", "access", "pop")
_ENDED = (STOP, NAS_RESTART, NO_STOP)


@dataclass(frozen=True)
class Grouping:
    level: str
    code: Ints            # group of each session; -1 = in no group of this level
    names: list[str]


def _mapped(codes: Ints, mapping: list[str]) -> tuple[Ints, list[str]]:
    """Session codes of one vocabulary -> group numbers, through each word's group name."""
    groups = sorted({m for m in mapping if m})
    number = {name: n for n, name in enumerate(groups)}
    table = np.array([number.get(m, -1) for m in mapping] or [-1], dtype=np.int64)
    return table[codes], groups


def grouping(folded: Folded, topology: Topology, level: str) -> Grouping:
    if level == "nas":
        codes, names = _mapped(folded.device, folded.device_names)
    elif level == "pop":
        codes, names = _mapped(folded.device, [topology.pop_of(d) for d in folded.device_names])
    elif level == "access":
        codes, names = _mapped(folded.circuit, access_names(folded.circuit_names, topology))
    else:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    return Grouping(level, codes, names)


def access_names(circuits: list[str], topology: Topology) -> list[str]:
    """The access device behind each distinct circuit id ("" for none), in pyarrow."""
    if not circuits or not topology.has_access:
        return [""] * len(circuits)
    values = pa.array(circuits, pa.string())
    found = pc.fill_null(pa.nulls(len(values), pa.string()), "")
    if topology.access_pattern:
        matched = pc.extract_regex(values, topology.access_pattern).field("access")
        found = pc.fill_null(matched, "")
    # Declared prefixes win over the pattern; the longest first, so apply them shortest first.
    for prefix, name in reversed(topology.access_prefixes):
        found = pc.if_else(pc.starts_with(values, prefix), pa.scalar(name), found)
    return [str(v) for v in found.to_pylist()]


def _merged(start: Ints, finish: Ints, holders: Ints) -> tuple[Ints, Ints]:
    """Each holder's sessions as the union of their time: (starts, ends) of the pieces."""
    if not len(start):
        return start, finish
    order = np.lexsort((start, holders))
    h, s, f = holders[order], start[order], finish[order]
    first = np.concatenate([[True], h[1:] != h[:-1]])
    group = np.cumsum(first) - 1
    ranks, inverse = np.unique(f, return_inverse=True)
    shifted = group * len(ranks) + inverse
    running = ranks[np.maximum.accumulate(shifted) - group * len(ranks)]
    previous = np.concatenate([[np.iinfo(np.int64).min], running[:-1]])
    new = first | (s > previous)
    begins = np.flatnonzero(new)
    last = np.concatenate([begins[1:], [len(s)]]) - 1
    return s[begins], running[last]


def _up(start: Ints, finish: Ints, samples: Ints) -> Ints:
    return (np.searchsorted(np.sort(start), samples, side="right")
            - np.searchsorted(np.sort(finish), samples, side="right")).astype(np.int64)


def cells(values: Ints, covered: Ints, k: int) -> list[int | None]:
    """`suppress.cells` over arrays: None where 0 < covered < k."""
    hidden = (covered > 0) & (covered < k)
    shown: list[int | None] = values.tolist()
    for number in np.flatnonzero(hidden).tolist():
        shown[number] = None
    return shown


def _per_bucket(buckets: Buckets, instants: Ints, holders: Ints) -> tuple[Ints, Ints]:
    index = buckets.index(instants)
    counts = np.bincount(index[index >= 0], minlength=buckets.count).astype(np.int64)
    return counts, distinct_per_bucket(index, holders, buckets.count)


@dataclass(frozen=True)
class ViewCounts:
    """A group view's figures before the k rule: each count with the distinct subscribers it
    covers. `rollup` keeps these per day; `present_view` applies k the same way for both."""

    active: Ints                                  # sessions up at each bucket start
    covered: Ints                                 # distinct subscribers up there
    series: dict[str, tuple[Ints, Ints]]          # name -> (count, distinct) per bucket
    ends: dict[str, tuple[int, int]]              # end kind -> (sessions, distinct) in range
    sessions: int                                 # sessions touching the range
    subscribers: int                              # distinct holders among them


def view_counts(start: Ints, finish: Ints, holders: Ints, kinds: npt.NDArray[np.int8],
                buckets: Buckets, dhcp: bool = False) -> ViewCounts:
    samples = buckets.starts()
    active = _up(start, finish, samples)
    union_start, union_finish = _merged(start, finish, holders)
    covered = _up(union_start, union_finish, samples)
    series: dict[str, tuple[Ints, Ints]] = {"starts": _per_bucket(buckets, start, holders)}
    ends: dict[str, tuple[int, int]] = {}
    for kind in _ENDED:
        mask = kinds == kind
        label = str(KINDS[kind])
        series[f"ends_{label.replace('-', '_')}"] = _per_bucket(buckets, finish[mask],
                                                                 holders[mask])
        inside = (finish[mask] >= buckets.since) & (finish[mask] < buckets.until)
        ends[label] = (int(inside.sum()), len(distinct(holders[mask][inside])))
    if dhcp:
        closed = kinds != OPEN
        index = np.concatenate([buckets.index(start), buckets.index(finish[closed])])
        who = np.concatenate([holders, holders[closed]])
        churn = np.bincount(index[index >= 0], minlength=buckets.count).astype(np.int64)
        series["lease_churn"] = (churn, distinct_per_bucket(index, who, buckets.count))
    touching = (start < buckets.until) & (finish > buckets.since)
    return ViewCounts(active, covered, series, ends, int(touching.sum()),
                      len(distinct(holders[touching])))


def present_view(level: str, name: str, source: str, counts: ViewCounts, k: int
                 ) -> dict[str, Any]:
    """`network.DeviceView.to_dict()` of one group, plus its level, with k applied."""
    active, covered = counts.active, counts.covered
    series: dict[str, list[int | None]] = {"active": cells(active, covered, k)}
    for key, (values, by) in counts.series.items():
        series[key] = cells(values, by, k)
    ends = {label: cell(n, by, k) for label, (n, by) in counts.ends.items()}
    subscribers = counts.subscribers
    peak_at = int(np.argmax(active)) if len(active) else 0
    peak = int(active[peak_at]) if len(active) else 0
    return {"level": level, "device": name, "source": source,
            "sessions": cell(counts.sessions, subscribers, k),
            "subscribers": cell(subscribers, subscribers, k),
            "peak_active": cell(peak, int(covered[peak_at]) if len(covered) else 0, k),
            "ends": ends, "series": series}


def group_view(level: str, name: str, source: str, start: Ints, finish: Ints, holders: Ints,
               kinds: npt.NDArray[np.int8], buckets: Buckets, k: int,
               dhcp: bool = False) -> dict[str, Any]:
    """`network.DeviceView.to_dict()` of one group, plus its level."""
    return present_view(level, name, source,
                        view_counts(start, finish, holders, kinds, buckets, dhcp), k)


def is_dhcp(sources: list[str]) -> bool:
    return any("dhcp" in s or "kea" in s for s in sources)


def views(folded: Folded, group: Grouping, buckets: Buckets, k: int,
          only: str | None = None, busiest: int | None = None) -> list[dict[str, Any]]:
    """One view per group of the level (or of the group named `only`, or of the `busiest`
    groups by sessions), by name."""
    order = np.argsort(group.code, kind="stable")
    codes = group.code[order]
    chosen = set(range(len(group.names)))
    if busiest is not None:
        sizes = np.bincount(group.code[group.code >= 0], minlength=len(group.names))
        chosen = set(np.argsort(-sizes, kind="stable")[:busiest].tolist())
    found = []
    for number, name in enumerate(group.names):
        if (only is not None and name != only) or number not in chosen:
            continue
        lo, hi = np.searchsorted(codes, [number, number + 1])
        mine = order[lo:hi]
        if not len(mine):
            continue
        sources = sorted({folded.source_names[c] for c in distinct(folded.source[mine])})
        source = ", ".join(sources)
        found.append(group_view(
            group.level, name, source, folded.start[mine], folded.finish[mine],
            folded.holder[mine], folded.kind[mine], buckets, k,
            dhcp=is_dhcp(sources)))
    return found
