"""Building a day's network-view rollup: every count the views show of one whole UTC day.

The session digests (`digest_write`) take reading and folding off a whole-day read; the views
then still walked every session of the day (millions at a large ISP) for each request. The
rollup is the next step: what the views aggregate, counted once per day and kept, so that a
network view, a POP, one NAS or the outage scan of that day reads a few thousand numbers.

What it holds (`compute`), k-independent so the policy's k can change without a rebuild:

- per level (the whole network, each NAS, each POP, each access device, and an access device
  seen behind several NASes or POPs per NAS or POP: `rollup_levels`) and per group: sessions
  up and distinct subscribers up at each minute's start, sessions begun, ended by kind, lease
  churn, ended by cause, octets in and out, each per minute, and the distinct subscribers of
  each of these per bucket of every resolution the view offers (they do not add up);
- per scope a report can be narrowed to (all, `device:<NAS>`, `pop:<POP>`): the pools'
  addresses in use at each minute with their holders and peak, the CGNAT port blocks, and
  the day's incidents as that scope sees them (who reconnected depends on the scope);
- the incidents: outage detection (device and POP level) runs here, once, with their evidence.

No subscriber is named or keyed in it: only counts, device and pool names and the log files
behind incidents. The counts are exact (`rollup_counts`), tested equal to the raw path.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]

from cpniguard.connectivity.network import cgnat_pools
from cpniguard.connectivity.store.schema import DAY_US
from cpniguard.quality import config
from cpniguard.quality.capacity import Holdings, holdings, pool_counts, port_block_counts
from cpniguard.quality.folding import Folded
from cpniguard.quality.groups import grouping
from cpniguard.quality.network import Buckets
from cpniguard.quality.outages import RECOVERY_US, Incident, detect_groups
from cpniguard.quality.rollup_counts import MINUTE, MINUTES
from cpniguard.quality.rollup_levels import DayFacts, level_counts, pairs
from cpniguard.quality.scan import ScanRange
from cpniguard.quality.suppress import distinct

Ints = npt.NDArray[np.int64]
Watch = Any   # callable (days) -> manifests, from rollup_store


def _scopes(folded: Folded, nas: Any, topology: config.Topology) -> dict[str, list[int]]:
    """Scope key -> the NAS group numbers it covers (only scopes with sessions)."""
    scopes = {"all": list(range(len(nas.names)))}
    for number, name in enumerate(nas.names):
        scopes[f"device:{name}"] = [number]
    for pop in sorted(set(topology.pops.values())):
        members = [nas.names.index(d) for d, p in sorted(topology.pops.items())
                   if p == pop and d in nas.names]
        if members:
            scopes[f"pop:{pop}"] = sorted(members)
    return scopes


def _reconnected(folded: Folded, incident: Incident, begun_order: Ints, begun: Ints,
                 in_scope: npt.NDArray[np.bool_]) -> int:
    """`outages.detect_groups`'s count of who connected again, among the scope's sessions."""
    holders = distinct(folded.holder[incident.member_ids])
    a = int(np.searchsorted(begun, incident.end, side="left"))
    b = int(np.searchsorted(begun, incident.end + RECOVERY_US, side="right"))
    later = begun_order[a:b]
    return len(np.intersect1d(folded.holder[later[in_scope[later]]], holders))


def _incidents(root: Path, folded: Folded, by: dict[str, Any], rule: config.OutageRule,
               since: int, watch: Watch) -> tuple[list[Incident], dict[str, str]]:
    """The day's incidents with their evidence, and the manifests of the other days the
    evidence was read from (an incident reaching over midnight)."""
    from cpniguard.quality.report import _incident_evidence

    found = [*detect_groups(folded, by["nas"], rule, since, since + DAY_US),
             *detect_groups(folded, by["pop"], rule, since, since + DAY_US)]
    found.sort(key=lambda i: (i.start, i.level != "nas", i.device))
    day = since // DAY_US
    others = sorted({d for i in found for d in ((i.start - 1) // DAY_US, (i.end + 1) // DAY_US)
                     if d != day})
    extra: dict[str, str] = watch(others) if others else {}
    for incident in found:
        _incident_evidence(root, incident)
    return found, extra


def _subset(held: Holdings, rows: npt.NDArray[np.bool_]) -> Holdings:
    return replace(held, hi=held.hi[rows], lo=held.lo[rows], plen=held.plen[rows],
                   start=held.start[rows], finish=held.finish[rows], holder=held.holder[rows],
                   device=held.device[rows], port_first=held.port_first[rows],
                   port_last=held.port_last[rows])


def compute(root: Path, table: pa.Table, folded: Folded, day: int, watch: Watch
            ) -> tuple[dict[str, Ints], dict[str, Any]]:
    """(arrays by key, description) of the day; see the module docstring."""
    since = day * DAY_US
    topology, rule = config.topology(), config.outage_rule()
    pools, public = config.pools(), cgnat_pools()
    facts = DayFacts.of(table, folded, since)
    by = {level: grouping(folded, topology, level) for level in ("nas", "pop", "access")}
    access = by["access"]
    at_nas, at_nas_names, behind_nas = pairs(access.code, access.names, by["nas"].code,
                                             by["nas"].names)
    at_pop, at_pop_names, behind_pop = pairs(access.code, access.names, by["pop"].code,
                                             by["pop"].names)
    levels = {"overall": (np.zeros(len(folded), np.int64), ["all"]),
              "nas": (by["nas"].code, by["nas"].names), "pop": (by["pop"].code, by["pop"].names),
              "access": (access.code, access.names), "access@nas": (at_nas, at_nas_names),
              "access@pop": (at_pop, at_pop_names)}
    arrays: dict[str, Ints] = {}
    meta: dict[str, Any] = {"levels": {}, "behind_nas": behind_nas, "behind_pop": behind_pop}
    for level, (code, names) in levels.items():
        counts, described = level_counts(facts, code, names, churn=level != "overall")
        meta["levels"][level] = described
        arrays.update({f"{level}/{key}": value for key, value in counts.arrays.items()})
    incidents, extra = _incidents(root, folded, by, rule, since, watch)
    meta["extra_manifests"] = extra
    meta["incidents"] = [i.to_dict() for i in incidents]
    meta["incident_times"] = [[i.start, i.end] for i in incidents]
    begun_order = np.argsort(folded.start, kind="stable")
    begun = folded.start[begun_order]
    held = holdings(table, folded)
    row_nas = by["nas"].code[folded.row_session] if len(table) else np.zeros(0, np.int64)
    buckets = Buckets(since, since + DAY_US, 60)
    samples = since + np.arange(MINUTES, dtype=np.int64) * MINUTE
    meta["scopes"] = {}
    for key, members in _scopes(folded, by["nas"], topology).items():
        names = [by["nas"].names[n] for n in members]
        everything = key == "all"
        in_scope = np.ones(len(folded), dtype=bool) if everything else np.isin(
            by["nas"].code, members)
        shown = [(n, i) for n, i in enumerate(incidents)
                 if (i.level == "nas" and i.device in names)
                 or (i.level == "pop" and (everything or key == f"pop:{i.device}"))]
        wanted = None if key == "all" else (
            names if key.startswith("device:") else
            sorted(d for d, p in topology.pops.items() if p == key.removeprefix("pop:")))
        part = held if everything else _subset(held, np.isin(row_nas, members))
        scope: dict[str, Any] = {
            "devices": names,
            "incidents": [[n, _reconnected(folded, i, begun_order, begun, in_scope)]
                          for n, i in shown],
            "pools": [], "port_blocks": port_block_counts(part, buckets, cgnat_pools=public)}
        for index, pool in enumerate(pools):
            if wanted is None or pool.device in ("", *wanted):
                counted = pool_counts(pool, part, buckets, samples)
                arrays[f"pool/{key}/{index}"] = counted.in_use.reshape(1, MINUTES)
                scope["pools"].append({"index": index, "holders": counted.holders,
                                       "peak": counted.peak})
        meta["scopes"][key] = scope
    return arrays, meta


def day_span(day: int) -> ScanRange:
    return ScanRange(day * DAY_US, (day + 1) * DAY_US)
