"""The network report's shape: one place that lays its parts out, whichever path made them.

`report.build_network` makes the parts from sessions (the raw path, or the session digests);
`rollup` makes the same parts from a day's prepared counts. Both hand them here already
k-suppressed, so the report's keys, order and plots cannot drift apart between the paths.
"""

from __future__ import annotations

from typing import Any

from cpniguard.connectivity.store.schema import from_us
from cpniguard.quality.config import OutageRule
from cpniguard.quality.network import Buckets
from cpniguard.quality.network_usage import attach_causes_and_usage
from cpniguard.quality.plots import network_plots
from cpniguard.quality.scan import ScanRange
from cpniguard.quality.suppress import cell

MAX_ACCESS_ROWS = 50


def incident_row(row: dict[str, Any], k: int) -> dict[str, Any]:
    """An incident's `to_dict()` with k applied."""
    row = dict(row)
    # The count of an outage is an aggregate like any other: under k subscribers, not shown.
    subscribers, active_before = row["subscribers"], row["active_before"]
    row["sessions"] = cell(row["sessions"], subscribers, k)
    row["subscribers"] = cell(subscribers, subscribers, k)
    row["active_before"] = cell(active_before, active_before, k)
    row["reconnected"] = cell(row["reconnected"], row["reconnected"], k)
    if row["sessions"] is None or row["active_before"] is None:
        row["share"] = None
    return row


def top_disconnects(devices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for view in devices:
        counts = [v for v in view["ends"].values() if v is not None]
        hidden = any(v is None for v in view["ends"].values())
        rows.append({"device": view["device"], "ends": sum(counts), "some_suppressed": hidden})
    return sorted(rows, key=lambda r: (-r["ends"], r["device"]))[:10]


def assemble(span: ScanRange, buckets: Buckets, *, device: str | None, pop: str | None, k: int,
             rule: OutageRule, overall: dict[str, Any], devices: list[dict[str, Any]],
             pops: list[dict[str, Any]], access: list[dict[str, Any]], access_total: int,
             incidents: list[dict[str, Any]], pools: list[dict[str, Any]],
             port_blocks: dict[str, Any], figures: dict[str, dict[str, dict[str, Any]]]
             ) -> dict[str, Any]:
    """The report; `access` unsorted and not yet cut to MAX_ACCESS_ROWS, `figures` the causes
    and usage by "devices"/"pops" and view name."""
    access.sort(key=lambda v: (-(v["sessions"] or 0), v["device"]))
    report: dict[str, Any] = {
        "since": from_us(span.since).isoformat(), "until": from_us(span.until).isoformat(),
        "device": device, "pop": pop, "resolution_seconds": buckets.seconds, "k": k,
        "buckets": [int(t // 1_000_000) for t in buckets.starts()],
        "overall": overall,
        "devices": devices,
        "pops": pops,
        "access_devices": access[:MAX_ACCESS_ROWS],
        "access_devices_total": access_total,
        "incidents": incidents,
        "outage_rule": {"min_sessions": rule.min_sessions, "min_share": rule.min_share,
                        "window_seconds": rule.window_seconds},
        "pools": pools,
        "port_blocks": port_blocks,
        "top_disconnect_devices": top_disconnects(devices),
        "not_recorded": {},
    }
    report["plots"] = network_plots(report)
    attach_causes_and_usage(report, figures)
    return report
