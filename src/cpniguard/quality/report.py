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
from cpniguard.connectivity.store.schema import OPEN_END, from_us
from cpniguard.quality import config
from cpniguard.quality.capacity import holdings, pool_usage, port_blocks
from cpniguard.quality.digest import read_day
from cpniguard.quality.folding import Folded, fold
from cpniguard.quality.groups import Grouping, group_view, grouping, views
from cpniguard.quality.network import Buckets, choose_resolution
from cpniguard.quality.network_usage import add_causes_and_usage
from cpniguard.quality.outages import Incident, detect_groups, evidence_of
from cpniguard.quality.plots import network_plots
from cpniguard.quality.scan import SESSION_COLUMNS, ScanRange, scan
from cpniguard.quality.suppress import cell

MAX_ACCESS_ROWS = 50


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


def _incident_row(incident: Incident, k: int) -> dict[str, Any]:
    row = incident.to_dict()
    # The count of an outage is an aggregate like any other: under k subscribers, not shown.
    row["sessions"] = cell(incident.sessions, incident.subscribers, k)
    row["subscribers"] = cell(incident.subscribers, incident.subscribers, k)
    row["active_before"] = cell(incident.active_before, incident.active_before, k)
    row["reconnected"] = cell(incident.reconnected, incident.reconnected, k)
    if row["sessions"] is None or row["active_before"] is None:
        row["share"] = None
    return row


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
    # A whole UTC day comes from its session digests when they are fresh (quality.digest).
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
    access = views(folded, by["access"], buckets, k, busiest=MAX_ACCESS_ROWS)
    access.sort(key=lambda v: (-(v["sessions"] or 0), v["device"]))
    report: dict[str, Any] = {
        "since": from_us(span.since).isoformat(), "until": from_us(span.until).isoformat(),
        "device": device, "pop": pop, "resolution_seconds": seconds, "k": k,
        "buckets": [int(t // 1_000_000) for t in buckets.starts()],
        "overall": _overall(folded, buckets, k),
        "devices": devices,
        "pops": views(folded, by["pop"], buckets, k) if topology.has_pops else [],
        "access_devices": access[:MAX_ACCESS_ROWS],
        "access_devices_total": len(by["access"].names),
        "incidents": [_incident_row(i, k) for i in incidents],
        "outage_rule": {"min_sessions": rule.min_sessions, "min_share": rule.min_share,
                        "window_seconds": rule.window_seconds},
        "pools": [pool_usage(p, held, buckets, k) for p in pools
                  if wanted is None or p.device in ("", *wanted)],
        "port_blocks": port_blocks(held, buckets, k, cgnat_pools=public),
        "top_disconnect_devices": _top_disconnects(devices),
        "not_recorded": {},
    }
    report["plots"] = network_plots(report)
    add_causes_and_usage(report, table, folded, by, buckets, k)
    return report


def _top_disconnects(devices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for view in devices:
        counts = [v for v in view["ends"].values() if v is not None]
        hidden = any(v is None for v in view["ends"].values())
        rows.append({"device": view["device"], "ends": sum(counts), "some_suppressed": hidden})
    return sorted(rows, key=lambda r: (-r["ends"], r["device"]))[:10]
