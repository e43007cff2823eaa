"""Plots as data: one description drives the chart in the page and its CSV export.

A plot is `{"id", "title", "kind": "line" | "step" | "bars" | "points", "x": [unix seconds],
"series": [{"label", "values"}], "unit"}`. Values are numbers or None (a suppressed figure,
drawn as a gap and exported as "< k"). The page passes plots to the chart script as JSON in
a `<script type="application/json">` element: no inline code, as the CSP requires.

The incident timeline is a "timeline" plot: the active sessions of the report's scope as its
one series, and `spans` (one per incident: start, end, label) that the chart shades over it.
Its CSV is the incident table, the figures a NOC hands over, not the series.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

from cpniguard.quality.network import SERIES_LABELS
from cpniguard.quality.usage import subscriber_usage_plots


def _plot(plot_id: str, title: str, kind: str, x: list[int],
          series: list[tuple[str, list[Any]]], unit: str = "") -> dict[str, Any]:
    return {"id": plot_id, "title": title, "kind": kind, "x": x, "unit": unit,
            "series": [{"label": label, "values": values} for label, values in series]}


INCIDENT_COLUMNS = ("start", "end", "level", "group", "devices", "cause", "sessions",
                    "subscribers", "active_before", "reconnected")


def timeline_plot(report: dict[str, Any]) -> dict[str, Any]:
    scope = report["pop"] or report["device"] or "the network"
    plot = _plot("incidents", f"Incident timeline: active sessions on {scope}", "timeline",
                 report["buckets"], [("active sessions", report["overall"]["series"]["active"])],
                 "sessions")
    plot["spans"] = [{"start": int(datetime.fromisoformat(i["start"]).timestamp()),
                      "end": int(datetime.fromisoformat(i["end"]).timestamp()),
                      "label": f"{i['level']} {i['group']}: {i['cause']}"}
                     for i in report["incidents"]]
    plot["incidents"] = report["incidents"]
    return plot


def network_plots(report: dict[str, Any]) -> list[dict[str, Any]]:
    x = report["buckets"]
    plots = [timeline_plot(report)]
    for view in [*report["devices"], *report.get("pops", [])]:
        name, series = view["device"], view["series"]
        if view.get("level") == "pop":
            name = f"pop:{name}"
        plots.append(_plot(f"{name}:active", f"Active sessions on {name}", "step", x,
                           [(SERIES_LABELS["active"], series["active"])], "sessions"))
        plots.append(_plot(
            f"{name}:ends", f"Sessions begun and ended on {name}", "bars", x,
            [(SERIES_LABELS[key], series[key]) for key in
             ("starts", "ends_stop", "ends_nas_restart", "ends_no_stop")],
            f"per {report['resolution_seconds'] // 60} min"))
        if "lease_churn" in series:
            plots.append(_plot(f"{name}:churn", f"Lease churn on {name}", "bars", x,
                               [(SERIES_LABELS["lease_churn"], series["lease_churn"])],
                               "leases"))
    for pool in report["pools"]:
        plots.append(_plot(
            f"pool:{pool['pool']}", f"Pool {pool['pool']}: addresses in use", "step", x,
            [("in use", pool["series"]["in_use"]),
             ("capacity", [pool["capacity"]] * len(x))], "addresses"))
    return plots


def _midnight(day: str) -> int:
    return int(datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).timestamp())


def subscriber_plots(view: dict[str, Any]) -> list[dict[str, Any]]:
    days = view["sessions_per_day"]
    sessions = view["sessions"]
    return [
        _plot("per-day", "Sessions and hours online per day (UTC)", "bars",
              [_midnight(d["day"]) for d in days],
              [("sessions begun", [d["sessions"] for d in days]),
               ("hours online", [round(d["online_seconds"] / 3600, 2) for d in days])]),
        _plot("lengths", "Session lengths", "points",
              [int(datetime.fromisoformat(s["start"]).timestamp()) for s in sessions],
              [("minutes", [round(s["seconds"] / 60, 1) for s in sessions])], "minutes"),
        *subscriber_usage_plots(view),
    ]


def _shown(value: Any, k: int) -> Any:
    return f"< {k}" if value is None else value


def incidents_csv(incidents: list[dict[str, Any]], k: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(INCIDENT_COLUMNS)
    for row in incidents:
        writer.writerow([" ".join(row[c]) if c == "devices" else _shown(row[c], k)
                         for c in INCIDENT_COLUMNS])
    return out.getvalue()


def to_csv(plot: dict[str, Any], k: int) -> str:
    if plot["kind"] == "timeline":
        return incidents_csv(plot["incidents"], k)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time_utc", *(s["label"] for s in plot["series"])])
    for number, instant in enumerate(plot["x"]):
        writer.writerow([
            datetime.fromtimestamp(instant, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            *(f"< {k}" if s["values"][number] is None else s["values"][number]
              for s in plot["series"])])
    return out.getvalue()
