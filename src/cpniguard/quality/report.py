"""The network report as data: groups, incidents, capacity and plots over one range.

No gate here: `services.network_report` (and the API, the page, the CLI and the CSV export
through it) holds the permit before calling `build_network`.

The range is read once without evidence (the evidence column is a list of structs per row,
the dearest column to decode) and folded into sessions as columns; incidents read their
evidence afterwards from a second scan narrowed to their devices and minutes. A `device`
or `pop` narrows the scan itself (the filter is pushed into the Parquet reader).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from cpniguard.connectivity.network import cgnat_pools
from cpniguard.connectivity.question import Usage
from cpniguard.connectivity.store.schema import OPEN_END
from cpniguard.quality import config
from cpniguard.quality.capacity import holdings, pool_usage, port_blocks
from cpniguard.quality.digest import read_day
from cpniguard.quality.folding import Folded, fold
from cpniguard.quality.groups import Grouping, group_view, grouping, views
from cpniguard.quality.network import Buckets, choose_resolution
from cpniguard.quality.network_usage import group_figures
from cpniguard.quality.outages import Incident, detect_groups, evidence_of
from cpniguard.quality.report_shape import MAX_ACCESS_ROWS, assemble, incident_row
from cpniguard.quality.rollup import Scope, report_of_day
from cpniguard.quality.scan import SESSION_COLUMNS, ScanRange, scan


def _devices_wanted(topology: config.Topology, device: str | None, pop: str | None
                    ) -> list[str] | None:
    if pop is not None:
        members = sorted(d for d, p in topology.pops.items() if p == pop)
        # A device no POP claims is a POP of its own name (backward compatible).
        return members or [pop]
    return None if device is None else [device]


def _scan_devices(root: Path, span: ScanRange, wanted: list[str] | None,
                  columns: tuple[str, ...] = SESSION_COLUMNS) -> Any:
    # dhcpd.leases rows name no device (the source stands for it): keep them in the scan and
    # let the fold name them, then drop the rows of other devices.
    table = scan(root, span, columns=columns,
                 devices=None if wanted is None else [*wanted, ""])
    if wanted is None or not len(table):
        return table
    named = pc.if_else(pc.equal(table.column("device"), ""), table.column("source"),
                       table.column("device"))
    return table.filter(pc.is_in(named, value_set=pa.array(wanted)))


def _incident_evidence(root: Path, incident: Incident, limit: int = 5) -> None:
    """The closing records of the incident's sessions, from a scan of its minutes only."""
    # A piece matches when it ends after `since`: start one µs early, or an end at exactly
    # the incident's first instant (a restart's, always) would not be read.
    span = ScanRange(incident.start - 1, incident.end + 1)
    table = _scan_devices(root, span, incident.devices,
                          columns=("original_end", "device", "source", "evidence"))
    end = table.column("original_end").to_numpy()
    closing = np.flatnonzero((end != OPEN_END) & (end >= incident.start) & (end <= incident.end))
    items = table.column("evidence").take(closing).to_pylist()
    incident.evidence = evidence_of(incident.cause, [i[-1] if i else None for i in items], limit)


def _overall(folded: Folded, buckets: Buckets, k: int) -> dict[str, Any]:
    return group_view("network", "all", "", folded.start, folded.finish, folded.holder,
                      folded.kind, buckets, k)


def build_network(root: Path, span: ScanRange, *, device: str | None, resolution: str | None,
                  k: int, pop: str | None = None) -> dict[str, Any]:
    """The report without the gate: callers hold a permit."""
    try:
        seconds = choose_resolution(span.since, span.until, resolution)
        rule, pools, topology = config.outage_rule(), config.pools(), config.topology()
        public = cgnat_pools()
    except ValueError as error:  # BadNetworkConfig is one
        raise Usage(str(error)) from None
    wanted = _devices_wanted(topology, device, pop)
    # A whole UTC day comes from its prepared counts (quality.rollup) or, failing that, its
    # session digests (quality.digest), when they are fresh.
    prepared = report_of_day(root, span, Scope(device, pop, wanted), seconds=seconds, k=k)
    if prepared is not None:
        return prepared
    found = read_day(root, span, wanted)
    if found is None:
        table = _scan_devices(root, span, wanted)
        found = table, fold(table)
    table, folded = found
    buckets = Buckets(span.since, span.until, seconds)
    by: dict[str, Grouping] = {level: grouping(folded, topology, level)
                               for level in ("nas", "access", "pop")}
    devices = views(folded, by["nas"], buckets, k)
    if wanted is not None and not devices:
        what = f"POP {pop!r}" if pop is not None else f"device {device!r}"
        raise Usage(f"no sessions of {what} in this range")
    incidents = [*detect_groups(folded, by["nas"], rule, span.since, span.until),
                 *detect_groups(folded, by["pop"], rule, span.since, span.until)]
    incidents.sort(key=lambda i: (i.start, i.level != "nas", i.device))
    for incident in incidents:
        _incident_evidence(root, incident)
    held = holdings(table, folded)
    figures: dict[str, dict[str, dict[str, Any]]] = {"devices": group_figures(
        table, folded, by["nas"], buckets, k)}
    pops = views(folded, by["pop"], buckets, k) if topology.has_pops else []
    if pops:
        figures["pops"] = group_figures(table, folded, by["pop"], buckets, k)
    return assemble(
        span, buckets, device=device, pop=pop, k=k, rule=rule,
        overall=_overall(folded, buckets, k), devices=devices, pops=pops,
        access=views(folded, by["access"], buckets, k, busiest=MAX_ACCESS_ROWS),
        access_total=len(by["access"].names),
        incidents=[incident_row(i.to_dict(), k) for i in incidents],
        pools=[pool_usage(p, held, buckets, k) for p in pools
               if wanted is None or p.device in ("", *wanted)],
        port_blocks=port_blocks(held, buckets, k, cgnat_pools=public), figures=figures)
