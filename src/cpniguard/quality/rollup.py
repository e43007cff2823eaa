"""A whole day's network report, and its incidents, from the day's rollup.

`rollup_build` says what a rollup holds and `rollup_store` when it is fresh. Here
`report.build_network` asks `report_of_day` for the report of one whole UTC day, for the
whole network, one NAS or one declared POP, at any resolution; the counts are cut to the
asked resolution, k is applied by the same functions the session path uses
(`groups.present_view`, `network_usage.present_figures`, `capacity.present_pool`,
`capacity.present_port_blocks`, `report_shape.incident_row`) and the report is laid out by
`report_shape.assemble`, so both paths give the same report (tested equal to the raw path).

None (the caller takes the digest path, then the raw path) for any other range, a device or
a POP the day has no session of, a POP network.toml does not declare, or when the rollup is
not fresh and cannot be rebuilt now.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpniguard.quality import config
from cpniguard.quality.capacity import PoolCounts, present_pool, present_port_blocks
from cpniguard.quality.digest import whole_day
from cpniguard.quality.folding import KINDS
from cpniguard.quality.groups import ViewCounts, is_dhcp, present_view
from cpniguard.quality.network import Buckets
from cpniguard.quality.network_usage import CauseUsageCounts, present_figures
from cpniguard.quality.outages import Incident
from cpniguard.quality.report_shape import MAX_ACCESS_ROWS, assemble, incident_row
from cpniguard.quality.rollup_counts import MINUTES, factor_of, reshaped
from cpniguard.quality.rollup_levels import END_SERIES, ENDED
from cpniguard.quality.rollup_store import Rollup, enabled, fresh
from cpniguard.quality.scan import ScanRange


@dataclass(frozen=True)
class Scope:
    device: str | None
    pop: str | None
    wanted: list[str] | None     # the devices the raw path would read (None: all)

    @property
    def key(self) -> str:
        if self.wanted is None:
            return "all"
        return f"pop:{self.pop}" if self.pop is not None else f"device:{self.device}"


class _Day:
    """One rollup cut at one resolution."""

    def __init__(self, rollup: Rollup, factor: int) -> None:
        self.arrays, self.meta, self.factor = rollup.arrays, rollup.meta, factor

    def _array(self, level: str, key: str) -> Any:
        return self.arrays[f"{level}/{key}"]

    def index(self, level: str, name: str) -> int:
        return int(self.meta["levels"][level]["names"].index(name))

    def sources(self, level: str, number: int) -> list[str]:
        return list(self.meta["levels"][level]["sources"][number])

    def pair(self, level: str, number: int, key: str) -> tuple[Any, Any]:
        """(count per bucket, distinct per bucket) of one group's series."""
        return (reshaped(self._array(level, f"{key}|n")[number], self.factor),
                self._array(level, f"{key}|d{self.factor}")[number])

    def view(self, level: str, number: int, dhcp: bool) -> ViewCounts:
        step = self.factor
        series = {"starts": self.pair(level, number, "starts")}
        ends: dict[str, tuple[int, int]] = {}
        for kind, key in zip(ENDED, END_SERIES, strict=True):
            series[key] = self.pair(level, number, key)
            ends[str(KINDS[kind])] = (int(self._array(level, f"{key}|n")[number].sum()),
                                      int(self._array(level, f"{key}|d{MINUTES}")[number, 0]))
        if dhcp:
            series["lease_churn"] = self.pair(level, number, "lease_churn")
        described = self.meta["levels"][level]
        return ViewCounts(self._array(level, "active")[number, ::step],
                          self._array(level, "covered")[number, ::step], series, ends,
                          int(described["touching"][number]),
                          int(described["subscribers"][number]))

    def figures(self, level: str, number: int) -> CauseUsageCounts:
        causes = {}
        for n, label in enumerate(self.meta["levels"][level]["causes"]):
            minutes = self._array(level, f"cause:{n}|n")[number]
            if minutes.any():
                counted, by = self.pair(level, number, f"cause:{n}")
                causes[label] = (int(minutes.sum()),
                                 int(self._array(level, f"cause:{n}|d{MINUTES}")[number, 0]),
                                 counted, by)
        into, out = self._array(level, "usage|in")[number], self._array(level, "usage|out")[number]
        return CauseUsageCounts(
            causes, int(into.sum()), int(out.sum()),
            int(self._array(level, f"usage|d{MINUTES}")[number, 0]),
            reshaped(into, self.factor), reshaped(out, self.factor),
            self._array(level, f"usage|d{self.factor}")[number])


def _access(day: _Day, scope: str, k: int) -> tuple[list[Any], int]:
    """The access views a report of `scope` shows (the busiest), and how many it has."""
    meta = day.meta
    if scope == "all":
        chosen = [("access", name) for name in meta["levels"]["access"]["names"]]
    else:
        level, behind = (("access@pop", meta["behind_pop"]) if scope.startswith("pop:")
                         else ("access@nas", meta["behind_nas"]))
        mine = scope.split(":", 1)[1]
        chosen = []
        for name in meta["levels"]["access"]["names"]:
            seen = behind.get(name, [])
            if mine in seen:
                chosen.append(("access", name) if seen == [mine] else (level, f"{name}\t{mine}"))
    sizes = [meta["levels"][level]["sizes"][day.index(level, name)] for level, name in chosen]
    busiest = set(sorted(range(len(chosen)), key=lambda n: -sizes[n])[:MAX_ACCESS_ROWS])
    views = []
    for n, (level, name) in enumerate(chosen):
        if n in busiest:
            number = day.index(level, name)
            sources = day.sources(level, number)
            views.append(present_view("access", name.split("\t")[0], ", ".join(sources),
                                      day.view(level, number, is_dhcp(sources)), k))
    return views, len(chosen)


def report_of_day(root: Path, span: ScanRange, scope: Scope, *, seconds: int, k: int
                  ) -> dict[str, Any] | None:
    """The report `build_network` would make, from the day's rollup; None when it cannot."""
    day_number = whole_day(span)
    if day_number is None or not enabled():
        return None
    rollup = fresh(Path(root), day_number)
    if rollup is None or scope.key not in rollup.meta["scopes"]:
        return None
    day = _Day(rollup, factor_of(seconds))
    topology, rule, pools = config.topology(), config.outage_rule(), config.pools()
    described = rollup.meta["scopes"][scope.key]

    def nas(name: str, level: str = "nas", label: str | None = None) -> dict[str, Any]:
        number = day.index("nas", name)
        sources = day.sources("nas", number)
        return present_view(level, label or name, ", ".join(sources),
                            day.view("nas", number, is_dhcp(sources)), k)

    devices = [nas(name) for name in described["devices"]]
    figures: dict[str, dict[str, dict[str, Any]]] = {"devices": {
        name: present_figures(day.figures("nas", day.index("nas", name)), k)
        for name in described["devices"]}}
    if scope.key.startswith("device:"):
        name = described["devices"][0]
        whole = ("nas", day.index("nas", name))
        pops = [nas(name, "pop", topology.pop_of(name))] if topology.has_pops else []
        pop_figures = {topology.pop_of(name): figures["devices"][name]}
    else:
        names = (rollup.meta["levels"]["pop"]["names"] if scope.key == "all"
                 else [scope.key.removeprefix("pop:")])
        whole = ("overall", 0) if scope.key == "all" else ("pop", day.index("pop", names[0]))
        pops, pop_figures = [], {}
        for name in names if topology.has_pops else []:
            number = day.index("pop", name)
            sources = day.sources("pop", number)
            pops.append(present_view("pop", name, ", ".join(sources),
                                     day.view("pop", number, is_dhcp(sources)), k))
            pop_figures[name] = present_figures(day.figures("pop", number), k)
    if pops:
        figures["pops"] = pop_figures
    access, access_total = _access(day, scope.key, k)
    incidents = [incident_row({**rollup.meta["incidents"][n], "reconnected": again}, k)
                 for n, again in described["incidents"]]
    shown_pools = [present_pool(pools[p["index"]], PoolCounts(
        rollup.arrays[f"pool/{scope.key}/{p['index']}"][0, ::day.factor], p["holders"],
        p["peak"]), k) for p in described["pools"]]
    return assemble(
        span, Buckets(span.since, span.until, seconds), device=scope.device, pop=scope.pop,
        k=k, rule=rule, overall=present_view("network", "all", "", day.view(*whole, False), k),
        devices=devices, pops=pops, access=access, access_total=access_total,
        incidents=incidents, pools=shown_pools,
        port_blocks=present_port_blocks(described["port_blocks"], k), figures=figures)


def day_incidents(root: Path, span: ScanRange) -> list[Incident] | None:
    """The incidents (device and POP level, with evidence) of one whole UTC day, as the
    outage scan finds them over every session; None when no fresh rollup can answer."""
    day_number = whole_day(span)
    if day_number is None or not enabled():
        return None
    rollup = fresh(Path(root), day_number)
    if rollup is None:
        return None
    found = []
    for row, (start, end) in zip(rollup.meta["incidents"], rollup.meta["incident_times"],
                                 strict=True):
        found.append(Incident(
            row["device"], row["source"], int(start), int(end), row["sessions"],
            row["subscribers"], row["active_before"], row["cause"], row["reconnected"],
            evidence=row["evidence"], level=row["level"], devices=row["devices"]))
    return found
