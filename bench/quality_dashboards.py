"""The service-quality dashboards over a large log store: p50/p95 of each query.

    .venv/bin/python bench/quality_dashboards.py --events 10000000 --days 7 [--store PATH] [--json]

Builds a synthetic store (`synthetic_store.build_store`: RADIUS, DHCP and CGNAT across four
POPs, a NAS restart and a POP cut injected) unless `--store` names one already built with the
same --events/--days/--seed, then times, on a fresh installation, as a NOC user:

- network view of one NAS and of one POP over the page's default range (one day), and the
  whole-network report over the same day: `quality.services.network_report`, audited;
- one subscriber's connection health over its default range (seven days), audited;
- the outage scan of one day: scan, fold, detection at device and POP level (no audit).

Each query runs three times in the same run: through the per-day rollups (`quality.rollup`:
the day's counts and incidents prepared once, their build time and size reported), through the
per-day session digests alone (`CPNIGUARD_QUALITY_ROLLUP=off`) and through the raw path
(`CPNIGUARD_QUALITY_DIGEST=off`: scan, merge the midnight pieces, fold), with the ratios raw /
rollup and digest / rollup. Digests and rollups are built first for the whole store. One
subscriber's health reads seven days by identity and never uses either (they answer one whole
UTC day); it is timed once. Also, for session folding, the first slice's per-row loop
(`sessions_of`) on one NAS's day against `folding.fold` on the same table. Goals: each
dashboard < 1 s p95 at 100M events, the outage scan of one day < 2 s.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import arguments, fresh_installation, median, percentile, report
from synthetic_store import SyntheticTruth, build_store, nas_name, network_toml, pop_name

GOAL_DASHBOARD, GOAL_OUTAGES = 1.0, 2.0


def timed(repeats: int, work: Callable[[], Any]) -> tuple[list[float], Any]:
    samples, result = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        result = work()
        samples.append(time.perf_counter() - began)
    return samples, result


def iso(micros: int) -> str:
    from cpniguard.connectivity.store.schema import from_us

    return from_us(micros).isoformat()


def store_for(args: Any) -> tuple[Path, SyntheticTruth | dict[str, Any], float]:
    """The store (built now, or reused with its saved truth) and the seconds building took."""
    import tempfile

    root = Path(args.store) if args.store else Path(tempfile.mkdtemp(prefix="quality-store-"))
    marker = root / "synthetic-truth.json"
    wanted = {"events": args.events, "days": args.days, "seed": args.seed}
    if marker.is_file():
        saved = json.loads(marker.read_text())
        if {k: saved[k] for k in wanted} == wanted:
            return root, saved, 0.0
        raise SystemExit(f"{root} holds a store built with other settings: {saved}")
    began = time.perf_counter()
    truth = build_store(root, args.events, args.days, args.seed)
    seconds = time.perf_counter() - began
    marker.write_text(json.dumps({**wanted, "subscribers": truth.subscribers,
                                  "since": truth.since, "rows": truth.rows,
                                  "outages": [o.__dict__ for o in truth.outages],
                                  "quiet_days": truth.quiet_days}))
    return root, json.loads(marker.read_text()), seconds


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--store", help="build the store here (or reuse the one there)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if args.days < 4:
        raise SystemExit("--days must be at least 4 (the POP cut is injected on day 3)")
    root, truth, build_seconds = store_for(args)
    home = fresh_installation("quality")
    (home / "network.toml").write_text(network_toml())
    os.environ["CPNIGUARD_LOGSTORE"] = str(root)
    figures, lines = run(args, root, truth)
    figures.update(build_seconds=round(build_seconds, 1), events=args.events, days=args.days,
                   rows=truth["rows"], subscribers=truth["subscribers"],
                   peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    lines.insert(0, f"store: {sum(truth['rows'].values()):,} rows over {args.days} days, "
                 f"{truth['subscribers']:,} subscribers"
                 + (f", built in {build_seconds:.1f} s" if build_seconds else " (reused)"))
    lines.append(f"peak RSS {figures['peak_rss_mib']} MiB")
    report(args, "quality_dashboards", lines, figures)


def run(args: Any, root: Path, truth: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    from datetime import UTC, datetime

    from cpniguard.access import Actor, Channel
    from cpniguard.accounts.models import StaffUser
    from cpniguard.connectivity.models import IdentityLink
    from cpniguard.connectivity.store.schema import DAY_US
    from cpniguard.quality import config
    from cpniguard.quality.digest import SWITCH, read_day
    from cpniguard.quality.digest_write import DIGEST_NAME, build_all
    from cpniguard.quality.folding import fold
    from cpniguard.quality.groups import grouping
    from cpniguard.quality.outages import detect, detect_groups
    from cpniguard.quality.rollup import day_incidents
    from cpniguard.quality.rollup_store import ROLLUP_NAME
    from cpniguard.quality.rollup_store import SWITCH as ROLLUPS
    from cpniguard.quality.rollup_store import build_all as build_rollups
    from cpniguard.quality.scan import ScanRange, scan
    from cpniguard.quality.services import network_report, subscriber_health
    from cpniguard.quality.sessions import sessions_of
    from cpniguard.subscribers.models import Subscriber

    staff = StaffUser.objects.create(username="noc-bench", role="noc")
    actor = Actor.for_staff(staff, Channel.CLI, "bench")
    person = Subscriber.objects.create(account_number="A9000000", first_name="Robin",
                                       last_name="Bench", service_started=datetime(
                                           2024, 1, 1, tzinfo=UTC).date())
    IdentityLink.objects.create(subscriber=person, kind=IdentityLink.Kind.USERNAME,
                                value="sub0000000@example.net",
                                valid_from=datetime(2024, 1, 1, tzinfo=UTC))
    day1 = truth["since"] + DAY_US          # the NAS restart's day
    since, until = iso(day1), iso(day1 + DAY_US)
    noc = {"purpose": "network_quality", "since": since, "until": until}
    cases: dict[str, Callable[[], Any]] = {
        "network_nas": lambda: network_report(actor, device=nas_name(0, 0), **noc),
        "network_pop": lambda: network_report(actor, pop=pop_name(0), **noc),
        "network_report": lambda: network_report(actor, **noc),
        "subscriber_health": lambda: subscriber_health(
            actor, "A9000000", purpose="troubleshooting", reference="TKT-104233",
            until=iso(day1 + DAY_US)),
    }
    rule, topology = config.outage_rule(), config.topology()
    cut_day = truth["since"] + 3 * DAY_US

    def outage_scan(start: int) -> list[Any]:
        span = ScanRange(start, start + DAY_US)
        prepared = day_incidents(root, span)   # detected when the day's rollup was built
        if prepared is not None:
            return prepared
        found = read_day(root, span)
        folded = fold(scan(root, span)) if found is None else found[1]
        return [*detect_groups(folded, grouping(folded, topology, "nas"), rule, start,
                               start + DAY_US),
                *detect_groups(folded, grouping(folded, topology, "pop"), rule, start,
                               start + DAY_US)]

    cases["outage_scan_day"] = lambda: outage_scan(cut_day)
    began = time.perf_counter()
    built = build_all(root)
    digest_seconds = time.perf_counter() - began
    size = sum(p.stat().st_size for p in root.glob(f"*/*/{DIGEST_NAME}"))
    stored = sum(p.stat().st_size for p in root.glob("*/*/part-*"))
    began = time.perf_counter()
    rolled = build_rollups(root)
    rollup_seconds = time.perf_counter() - began
    copies = list(root.glob(f"*/*/{ROLLUP_NAME}"))
    days = {p.parent.name for p in copies}
    every = sum(p.stat().st_size for p in copies)
    figures: dict[str, Any] = {
        "digests": {"built": built, "seconds": round(digest_seconds, 1), "bytes": size,
                    "store_bytes": stored},
        "rollups": {"built": rolled, "seconds": round(rollup_seconds, 1), "days": len(days),
                    "bytes_all_copies": every, "bytes_per_copy": every // max(len(copies), 1)}}
    lines = [f"digests: {built} built in {digest_seconds:.1f} s, {size / 2**20:.0f} MiB "
             f"({size / max(stored, 1):.0%} of the store's {stored / 2**20:.0f} MiB)",
             f"rollups: {rolled} days built in {rollup_seconds:.1f} s "
             f"({rollup_seconds / max(rolled, 1):.1f} s a day), "
             f"{every / 2**20:.1f} MiB in {len(copies)} copies ({len(days)} days, one copy "
             f"per source, {every / max(len(copies), 1) / 2**20:.2f} MiB each)",
             f"{'query':<18} {'rollup p50':>10} {'p95':>6} {'digest p50':>10} {'p95':>6} "
             f"{'raw p50':>8} {'p95':>6} {'raw/ro':>7} {'dg/ro':>6}  goal (rollup p95)"]
    for name, ours in cases.items():
        goal = GOAL_OUTAGES if name == "outage_scan_day" else GOAL_DASHBOARD
        os.environ[SWITCH], os.environ[ROLLUPS] = "on", "on"
        samples, _ = timed(args.repeats, ours)
        os.environ[ROLLUPS] = "off"
        digest, _ = timed(max(3, args.repeats // 2), ours)
        os.environ[SWITCH] = "off"
        raw, _ = timed(3, ours)
        os.environ[SWITCH], os.environ[ROLLUPS] = "on", "on"
        p95, ratio = percentile(samples, 0.95), median(raw) / median(samples)
        figures[name] = {"p50": round(median(samples), 3), "p95": round(p95, 3),
                         "digest_p50": round(median(digest), 3),
                         "digest_p95": round(percentile(digest, 0.95), 3),
                         "raw_p50": round(median(raw), 3),
                         "raw_p95": round(percentile(raw, 0.95), 3), "ratio": round(ratio, 2),
                         "digest_ratio": round(median(digest) / median(samples), 2),
                         "goal_p95": goal, "meets_goal": p95 < goal}
        lines.append(f"{name:<18} {median(samples):>10.3f} {p95:>6.3f} {median(digest):>10.3f} "
                     f"{percentile(digest, 0.95):>6.3f} {median(raw):>8.3f} "
                     f"{percentile(raw, 0.95):>6.3f} {ratio:>6.1f}x "
                     f"{median(digest) / median(samples):>5.1f}x  < {goal:.0f} s "
                     f"{'ok' if p95 < goal else 'MISSED'}"
                     + ("  (7 days: the raw path every time)" if name == "subscriber_health"
                        else ""))
    # Found what was injected, and nothing on a quiet day.
    found = outage_scan(cut_day) + outage_scan(day1)
    quiet = [outage_scan(truth["since"] + d * DAY_US) for d in truth["quiet_days"][:2]]
    figures["injected_found"] = [
        any(i.level == o["level"] and i.device == o["group"] and abs(i.start - o["at"])
            <= rule.window_seconds * 1_000_000 for i in found) for o in truth["outages"]]
    figures["quiet_day_incidents"] = sum(len(q) for q in quiet)
    lines.append(f"injected outages found: {figures['injected_found']}; incidents on "
                 f"{len(quiet)} quiet days: {figures['quiet_day_incidents']}")
    # Folding before/after, on one NAS's day (the loop is too slow for the whole network).
    one = scan(root, ScanRange(day1, day1 + DAY_US), devices=[nas_name(0, 0)])
    loop, _ = timed(1, lambda: detect(sessions_of(one), rule, day1, day1 + DAY_US))
    vector, _ = timed(3, lambda: detect_groups(*(lambda f: (f, grouping(
        f, topology, "nas")))(fold(one)), rule, day1, day1 + DAY_US))
    figures["fold_one_nas"] = {"rows": len(one), "loop_s": round(loop[0], 3),
                               "columns_s": round(median(vector), 3),
                               "speedup": round(loop[0] / median(vector), 1)}
    lines.append(f"fold + detect, one NAS's day ({len(one):,} rows): per-row loop "
                 f"{loop[0]:.2f} s, columns {median(vector):.3f} s "
                 f"({loop[0] / median(vector):.0f}x)")
    return figures, lines


if __name__ == "__main__":
    main()
