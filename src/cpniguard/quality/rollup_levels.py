"""The counts of one grouping level over a day's sessions (see `rollup_counts`).

A level is a way to group the day's sessions: the whole network, each NAS, each POP, each
access device, and, for an access device seen behind several NASes or POPs, each (access
device, NAS) and (access device, POP) pair, which is what a report narrowed to one NAS or POP
shows of it. For each group: the series of `groups.view_counts` (sessions up, begun, ended
by kind, lease churn), the causes and usage of `network_usage.group_counts`, and the totals
(sessions and subscribers touching the day, sessions in all, the sources).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]

from cpniguard.connectivity.store.schema import DAY_US
from cpniguard.quality.folding import KINDS, NAS_RESTART, NO_STOP, OPEN, STOP, Folded
from cpniguard.quality.groups import is_dhcp
from cpniguard.quality.network_usage import _readings, session_causes
from cpniguard.quality.rollup_counts import (
    Counts,
    distinct_per_group,
    event_counts,
    split,
    up_counts,
)
from cpniguard.quality.suppress import distinct

Ints = npt.NDArray[np.int64]
ENDED = (STOP, NAS_RESTART, NO_STOP)
END_SERIES = tuple(f"ends_{str(KINDS[kind]).replace('-', '_')}" for kind in ENDED)


@dataclass(frozen=True)
class DayFacts:
    """What every level counts from: the sessions, their causes, the rows' readings."""

    folded: Folded
    since: int
    cause: Ints                 # label code of each session, -1 while open
    labels: list[str]
    at: Ints                    # per row: the instant its counters were read
    octets_in: Ints
    octets_out: Ints
    has: npt.NDArray[np.bool_]  # per row: it carries counters

    @classmethod
    def of(cls, table: pa.Table, folded: Folded, since: int) -> DayFacts:
        cause, labels = session_causes(table, folded)
        at, into, out, has = _readings(table)
        return cls(folded, since, cause, labels, at, into, out, has)


def level_counts(facts: DayFacts, code: Ints, names: list[str], *, churn: bool = True
                 ) -> tuple[Counts, dict[str, Any]]:
    """The arrays of every group of a level (`code`: group of each session, -1 none) and
    the level's description (names, sources, totals, the cause labels it stores)."""
    f, since = facts.folded, facts.since
    groups = len(names)
    counts = Counts(groups)
    up_counts(counts, code, f.holder, f.start, f.finish, since)
    event_counts(counts, "starts", code, f.holder, f.start, since)
    ended = (code >= 0) & (f.kind != OPEN)
    by_kind = Counts(groups * len(ENDED))
    event_counts(by_kind, "ends", np.where(ended, code * len(ENDED) + f.kind, -1), f.holder,
                 f.finish, since)
    for series, part in zip(END_SERIES, split(by_kind, "ends", len(ENDED)), strict=True):
        counts.arrays.update({key.replace("ends|", f"{series}|"): v for key, v in part.items()})
    sources = _sources(f, code, groups)
    dhcp = np.array([is_dhcp(s) for s in sources] or [False], dtype=bool)
    if churn and dhcp.any():
        mine = (code >= 0) & dhcp[np.maximum(code, 0)]
        closed = mine & (f.kind != OPEN)
        event_counts(counts, "lease_churn",
                     np.concatenate([np.where(mine, code, -1), np.where(closed, code, -1)]),
                     np.concatenate([f.holder, f.holder]),
                     np.concatenate([f.start, f.finish]), since)
    labels = _causes(counts, facts, code)
    row_group = code[f.row_session] if len(f.row_session) else np.zeros(0, np.int64)
    row_holder = f.holder[f.row_session] if len(f.row_session) else np.zeros(0, np.int64)
    event_counts(counts, "usage", np.where(facts.has, row_group, -1), row_holder, facts.at,
                 since, sums={"in": facts.octets_in, "out": facts.octets_out})
    touching = (code >= 0) & (f.start < since + DAY_US) & (f.finish > since)
    meta = {
        "names": names, "sources": [sorted(s) for s in sources],
        "sizes": np.bincount(code[code >= 0], minlength=groups).tolist(),
        "touching": np.bincount(code[touching], minlength=groups).tolist(),
        "subscribers": distinct_per_group(np.where(touching, code, -1), f.holder,
                                          groups).tolist(),
        "causes": labels,
    }
    return counts, meta


def _sources(f: Folded, code: Ints, groups: int) -> list[list[str]]:
    kept = code >= 0
    width = len(f.source_names) or 1
    pairs = distinct(code[kept] * width + f.source[kept])
    found: list[list[str]] = [[] for _ in range(groups)]
    for pair in pairs.tolist():
        found[pair // width].append(f.source_names[pair % width])
    return found


def _causes(counts: Counts, facts: DayFacts, code: Ints) -> list[str]:
    """Per cause label with a session ended in the day: `cause:<n>|...` arrays; returns the
    labels, n being the index in that list."""
    labels = facts.labels
    width = len(labels)
    mine = (code >= 0) & (facts.cause >= 0)
    combined = Counts(counts.groups * width)
    event_counts(combined, "cause", np.where(mine, code * width + facts.cause, -1),
                 facts.folded.holder, facts.folded.finish, facts.since)
    kept: list[str] = []
    for label, part in zip(labels, split(combined, "cause", width), strict=True):
        if part["cause|n"].any():
            counts.arrays.update({key.replace("cause|", f"cause:{len(kept)}|"): v
                                  for key, v in part.items()})
            kept.append(label)
    return kept


def pairs(first: Ints, first_names: list[str], second: Ints, second_names: list[str]
          ) -> tuple[Ints, list[str], dict[str, list[str]]]:
    """Groups of (first, second) for the first groups seen with more than one second group
    (an access device behind two NASes): (code per session, names "first\\tsecond", and the
    second groups of every first group)."""
    kept = (first >= 0) & (second >= 0)
    width = len(second_names) or 1
    combined = distinct(first[kept] * width + second[kept])
    seen: dict[str, list[str]] = {}
    for pair in combined.tolist():
        seen.setdefault(first_names[pair // width], []).append(second_names[pair % width])
    several = np.array([len(seen.get(name, ())) > 1 for name in first_names] or [False])
    chosen = combined[several[combined // width]] if len(combined) else combined
    names = [f"{first_names[p // width]}\t{second_names[p % width]}" for p in chosen.tolist()]
    key = first * width + second
    position = np.searchsorted(chosen, key)
    found = (kept & (position < len(chosen))
             & (chosen[np.minimum(position, max(len(chosen) - 1, 0))] == key)
             if len(chosen) else np.zeros(len(first), dtype=bool))
    return np.where(found, position, -1).astype(np.int64), names, seen
