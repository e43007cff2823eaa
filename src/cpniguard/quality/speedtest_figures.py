"""Speed tests against the plan: one subscriber's results, and their spread across many.

Each result is compared with the advertised speed of the subscriber's broadband service on
the test's UTC day (the service rows are dated: a plan changed in March compares March's
tests with the old plan): down and up as a share of advertised, 1.0 = the plan delivered.

- `subscriber_speed`: the results of one subscriber in a range with their shares, and the
  finding the health verdict uses: the median share of one direction below `degraded_below`
  over at least `min_tests` tests is `degraded`, naming the tests behind it.
- `speed_distribution`: across subscribers, each counted once by the median share of their
  tests, in bins of 10 %; a bin (and every total) covering 1..k-1 subscribers is suppressed.

The rule's thresholds are facts about the network, not privacy promises, so they live in
`$CPNIGUARD_HOME/network.toml` next to the outage rule:

    [speed_tests]
    min_tests = 3          # at least this many tests with a plan to compare with...
    degraded_below = 0.5   # ...whose median share of the plan is below this: degraded
"""

from __future__ import annotations

import csv
import io
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date
from pathlib import Path
from statistics import median
from typing import Any

from cpniguard.connectivity.network import CONFIG_NAME, BadNetworkConfig
from cpniguard.connectivity.store.schema import from_us
from cpniguard.home import home
from cpniguard.quality.health import Finding
from cpniguard.quality.models import SpeedTest
from cpniguard.quality.suppress import cell
from cpniguard.subscribers.models import Service

BIN_EDGES = tuple(range(0, 101, 10))  # 0-10 % ... 90-100 %, and ">= 100 %" at 100
PLOT_ID = "speed:share-of-plan"


@dataclass(frozen=True, slots=True)
class SpeedRule:
    min_tests: int = 3
    degraded_below: float = 0.5


def speed_rule(root: Path | None = None) -> SpeedRule:
    path = (root or home()) / CONFIG_NAME
    entry: Any = {}
    if path.is_file():
        try:
            entry = tomllib.loads(path.read_text(encoding="utf-8")).get("speed_tests", {})
        except tomllib.TOMLDecodeError as error:
            raise BadNetworkConfig(f"{path}: {error}") from None
    if not isinstance(entry, dict):
        raise BadNetworkConfig("[speed_tests] must be a table")
    default = SpeedRule()
    tests = entry.get("min_tests", default.min_tests)
    below = entry.get("degraded_below", default.degraded_below)
    if not isinstance(tests, int) or isinstance(tests, bool) or tests < 1:
        raise BadNetworkConfig("speed_tests.min_tests must be a whole number, at least 1")
    if not isinstance(below, int | float) or not 0 < below <= 1:
        raise BadNetworkConfig("speed_tests.degraded_below must be a share between 0 and 1")
    return SpeedRule(tests, float(below))


def plan_on(services: list[Service], day: date) -> Service | None:
    """The broadband service in force that day; on a changeover day, the newer one."""
    current = [s for s in services if s.started <= day and (s.ended is None or s.ended >= day)]
    return max(current, key=lambda s: (s.started, s.pk), default=None)


def share(measured: float | None, advertised: int | None) -> float | None:
    if measured is None or not advertised:
        return None
    return round(measured / advertised, 3)


def _plans_of(subscriber_ids: set[int]) -> dict[int, list[Service]]:
    plans: dict[int, list[Service]] = defaultdict(list)
    for service in Service.objects.filter(subscriber_id__in=subscriber_ids,
                                          kind=Service.Kind.BROADBAND):
        plans[service.subscriber_id].append(service)
    return plans


def _in_range(since: int, until: int) -> Any:
    return SpeedTest.objects.filter(measured_at__gte=from_us(since),
                                    measured_at__lt=from_us(until))


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{value:.0%}"


def _findings(rows: list[dict[str, Any]], rule: SpeedRule) -> list[Finding]:
    found = []
    for direction, label in (("down", "download"), ("up", "upload")):
        counted = [(n, r[f"{direction}_share"]) for n, r in enumerate(rows)
                   if r.get(f"{direction}_share") is not None]
        if len(counted) < rule.min_tests:
            continue
        middle = median(s for _, s in counted)
        if middle < rule.degraded_below:
            found.append(Finding(
                f"slow-{label}", "degraded",
                f"median {label} {_pct(middle)} of the plan over {len(counted)} speed tests "
                f"(degraded below {_pct(rule.degraded_below)} over {rule.min_tests} or more)",
                (), tuple(n for n, _ in counted)))
    return found


def subscriber_speed(subscriber_id: int, since: int, until: int, *, show_plan: bool,
                     rule: SpeedRule) -> tuple[dict[str, Any], list[Finding]]:
    """The results in [since, until) with their shares (when the purpose may see the plan)."""
    tests = list(_in_range(since, until).filter(subscriber_id=subscriber_id)
                 .select_related("file").order_by("measured_at", "id"))
    services = _plans_of({subscriber_id}).get(subscriber_id, [])
    rows: list[dict[str, Any]] = []
    for test in tests:
        row: dict[str, Any] = {
            "measured_at": test.measured_at.astimezone(UTC).isoformat(),
            "down_mbps": test.down_mbps, "up_mbps": test.up_mbps,
            "latency_ms": test.latency_ms, "server": test.server, "method": test.method,
            "evidence": {"file": test.file.path, "line": test.line,
                         "sha256": test.file.sha256, "format": test.file.format}}
        if show_plan:
            plan = plan_on(services, test.measured_at.astimezone(UTC).date())
            row["plan"] = None if plan is None else {
                "name": plan.plan, "down_mbps": plan.down_mbps, "up_mbps": plan.up_mbps}
            row["down_share"] = share(test.down_mbps, plan.down_mbps if plan else None)
            row["up_share"] = share(test.up_mbps, plan.up_mbps if plan else None)
        rows.append(row)
    findings = _findings(rows, rule) if show_plan else []
    downs = [r["down_share"] for r in rows if r.get("down_share") is not None]
    ups = [r["up_share"] for r in rows if r.get("up_share") is not None]
    view = {"tests": rows, "plan_shown": show_plan,
            # Tests compared with a plan: only these can say the service is good or not.
            "compared": sum(1 for r in rows if r.get("down_share") is not None
                            or r.get("up_share") is not None),
            "median_down_share": median(downs) if downs else None,
            "median_up_share": median(ups) if ups else None,
            "rule": {"min_tests": rule.min_tests, "degraded_below": rule.degraded_below}}
    return view, findings


def _bin(value: float) -> int:
    return min(int(value * 100) // 10, len(BIN_EDGES) - 1)


def _steady_plan(services: list[Service], first: date, last: date) -> Service | None:
    """The one plan in force over the whole range, if there is exactly one."""
    overlapping = [s for s in services
                   if s.started <= last and (s.ended is None or s.ended >= first)]
    if len(overlapping) == 1 and overlapping[0].started <= first \
            and (overlapping[0].ended is None or overlapping[0].ended >= last):
        return overlapping[0]
    return None


def _shares_per_subscriber(since: int, until: int
                           ) -> tuple[dict[int, dict[str, list[float]]], int, int]:
    """(subscriber -> down/up shares, tests, subscribers tested). Most subscribers keep one
    plan over a range: their tests need no instant, which spares converting each one; only
    those whose plan changed within the range are read with it, test by test."""
    per: dict[int, dict[str, list[float]]] = defaultdict(lambda: {"down": [], "up": []})
    first, last = from_us(since).date(), from_us(until - 1).date()
    figures = list(_in_range(since, until).values_list("subscriber_id", "down_mbps", "up_mbps"))
    plans = _plans_of({f[0] for f in figures})
    steady = {sid: _steady_plan(services, first, last) for sid, services in plans.items()}

    def add(subscriber_id: int, plan: Service, down: float | None, up: float | None) -> None:
        for direction, measured, advertised in (("down", down, plan.down_mbps),
                                                ("up", up, plan.up_mbps)):
            value = share(measured, advertised)
            if value is not None:
                per[subscriber_id][direction].append(value)

    for subscriber_id, down, up in figures:
        plan = steady.get(subscriber_id)
        if plan is not None:
            add(subscriber_id, plan, down, up)
    changed = [sid for sid, plan in steady.items() if plan is None]
    if changed:
        for subscriber_id, measured_at, down, up in _in_range(since, until).filter(
                subscriber_id__in=changed).values_list("subscriber_id", "measured_at",
                                                       "down_mbps", "up_mbps"):
            day_plan = plan_on(plans[subscriber_id], measured_at.astimezone(UTC).date())
            if day_plan is not None:
                add(subscriber_id, day_plan, down, up)
    return per, len(figures), len({f[0] for f in figures})


def speed_distribution(since: int, until: int, k: int) -> dict[str, Any]:
    """Subscribers by the median share of the plan their tests delivered, k-suppressed."""
    per, tests, tested_any = _shares_per_subscriber(since, until)
    result: dict[str, Any] = {"k": k, "bins": [f"{e}-{e + 10} %" for e in BIN_EDGES[:-1]]
                              + [">= 100 %"]}
    tested = {s for s, d in per.items() if d["down"] or d["up"]}
    result["subscribers"] = cell(len(tested), len(tested), k)
    result["tests"] = cell(tests, tested_any, k)
    for direction in ("down", "up"):
        medians = [median(d[direction]) for d in per.values() if d[direction]]
        counts = [0] * len(BIN_EDGES)
        for value in medians:
            counts[_bin(value)] += 1
        result[direction] = [cell(c, c, k) for c in counts]
        shown = len(medians) >= k
        result[f"median_{direction}_share"] = round(median(medians), 3) if shown else None
    return result


def speed_plot(distribution: dict[str, Any]) -> dict[str, Any]:
    """The distribution as a plot of the quality pages (x: the bins' lower edges, in %)."""
    return {"id": PLOT_ID, "kind": "bars", "x": list(BIN_EDGES), "x_label": "% of plan",
            "x_names": distribution["bins"], "unit": "subscribers",
            "title": "Delivered speed as a share of the plan (median per subscriber)",
            "series": [{"label": "download", "values": distribution["down"]},
                       {"label": "upload", "values": distribution["up"]}]}


def speed_plot_csv(plot: dict[str, Any], k: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["share_of_plan", *(s["label"] for s in plot["series"])])
    for number, name in enumerate(plot["x_names"]):
        writer.writerow([name, *(f"< {k}" if s["values"][number] is None
                                 else s["values"][number] for s in plot["series"])])
    return out.getvalue()


def is_speed_plot(plot: dict[str, Any]) -> bool:
    return plot.get("id") == PLOT_ID


def add_speed_tests(report: dict[str, Any], since: int, until: int, k: int) -> None:
    """Put the spread and its plot in a network report. Speed tests belong to subscribers,
    not devices: a report narrowed to a device or a POP gets none."""
    if report.get("device") or report.get("pop"):
        report["speed_tests"] = None
        return
    report["speed_tests"] = speed_distribution(since, until, k)
    report["plots"].append(speed_plot(report["speed_tests"]))
