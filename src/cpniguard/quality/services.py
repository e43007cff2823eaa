"""The quality tools as staff reach them: through the access gate, audited, k-suppressed.

The CLI, the web pages and the CSV exports call only these functions, so one staff member
gets the same figures, and the same refusal, everywhere:

- `network_report`: figures over many subscribers (category service_quality). Any purpose
  the policy grants for it will do (the NOC's `network_quality`, needing no ticket); every
  figure covering fewer than k subscribers is suppressed.
- `subscriber_health`: one subscriber's connections, under a purpose that grants both the
  service-quality data and the connectivity logs behind it (troubleshooting, with a ticket).
  Nothing is suppressed there: the ticket is about that subscriber.
- `export_plot`: one plot of either as CSV, a separate audited read (never the policy's
  `export`: service-quality data does not leave the company).

Nothing about a subscriber is read before the decision.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cpniguard.access import Actor
from cpniguard.access.gate import SubjectNotFound, access
from cpniguard.connectivity.links import HOLDER_KINDS
from cpniguard.connectivity.models import IdentityLink
from cpniguard.connectivity.question import Usage, parse_instant
from cpniguard.connectivity.store.schema import from_us, to_us
from cpniguard.policy import Action
from cpniguard.quality import config
from cpniguard.quality.capacity import holdings, pool_usage, port_blocks
from cpniguard.quality.health import health
from cpniguard.quality.network import Buckets, choose_resolution, network_views
from cpniguard.quality.outages import attach_evidence, detect
from cpniguard.quality.plots import network_plots, subscriber_plots, to_csv
from cpniguard.quality.scan import SESSION_COLUMNS, ScanRange, scan
from cpniguard.quality.sessions import Session, sessions_of
from cpniguard.quality.suppress import cell
from cpniguard.subscribers.models import Subscriber

NETWORK_CATEGORIES = frozenset({"service_quality"})
HEALTH_CATEGORIES = frozenset({"service_quality", "connectivity_logs", "account"})
HEALTH_REQUIRED = frozenset({"service_quality", "connectivity_logs"})
NETWORK_FIELDS = ("devices", "incidents", "pools", "port_blocks")
HEALTH_FIELDS = ("sessions", "addresses", "flags", "findings", "verdict")
MAX_RANGE = timedelta(days=31)
DEFAULT_HEALTH_DAYS = 7


def store_root() -> Path:
    """The embedded store the rest of cpniguard writes (the quality scan reads its files)."""
    import os

    from cpniguard.home import home

    configured = os.environ.get("CPNIGUARD_LOGSTORE")
    if configured and "://" in configured:
        raise Usage("the quality tools read the embedded log store only (for now)")
    return Path(configured) if configured else home() / "logstore"


def parse_range(since: str | None, until: str | None, *,
                default_days: int = 1) -> ScanRange:
    """Instants with an offset or a zone (as everywhere); the range is at most MAX_RANGE."""
    end = parse_instant(until) if until else datetime.now(UTC)
    begin = parse_instant(since) if since else end - timedelta(days=default_days)
    if end <= begin:
        raise Usage("--until must be after --since")
    if end - begin > MAX_RANGE:
        raise Usage(f"a range is at most {MAX_RANGE.days} days")
    return ScanRange(to_us(begin), to_us(end))


def _check_resolution(span: ScanRange, resolution: str | None) -> None:
    try:
        choose_resolution(span.since, span.until, resolution)
    except ValueError as error:
        raise Usage(str(error)) from None


def build_network(root: Path, span: ScanRange, *, device: str | None, resolution: str | None,
                  k: int) -> dict[str, Any]:
    """The report without the gate: callers hold a permit."""
    try:
        seconds = choose_resolution(span.since, span.until, resolution)
        rule, pools = config.outage_rule(), config.pools()
    except ValueError as error:  # BadNetworkConfig is one
        raise Usage(str(error)) from None
    table = scan(root, span, columns=(*SESSION_COLUMNS, "evidence"))
    sessions = sessions_of(table)
    buckets = Buckets(span.since, span.until, seconds)
    views = network_views(sessions, buckets, k, device)
    if device is not None and not views:
        raise Usage(f"no sessions of device {device!r} in this range")
    incidents = [i for i in detect(sessions, rule, span.since, span.until)
                 if device is None or i.device == device]
    attach_evidence(incidents, table)
    held = holdings(table, sessions)
    report: dict[str, Any] = {
        "since": from_us(span.since).isoformat(), "until": from_us(span.until).isoformat(),
        "device": device, "resolution_seconds": seconds, "k": k,
        "buckets": [int(t // 1_000_000) for t in buckets.starts()],
        "devices": [v.to_dict() for v in views],
        "incidents": [{**i.to_dict(), "subscribers": cell(i.subscribers, i.subscribers, k),
                       "reconnected": cell(i.reconnected, i.reconnected, k)}
                      for i in incidents],
        "outage_rule": {"min_sessions": rule.min_sessions, "min_share": rule.min_share,
                        "window_seconds": rule.window_seconds},
        "pools": [pool_usage(p, held, buckets, k) for p in pools
                  if device is None or p.device in ("", device)],
        "port_blocks": port_blocks(held, buckets, k),
        "top_disconnect_devices": _top_disconnects(views),
        "not_recorded": {"disconnect_causes": "RADIUS Acct-Terminate-Cause is not kept in "
                         "the log store yet: ends are told apart only as Stop, NAS restart "
                         "or lost"},
    }
    report["plots"] = network_plots(report)
    return report


def _top_disconnects(views: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for view in views:
        counts = [v for v in view.ends.values() if v is not None]
        hidden = any(v is None for v in view.ends.values())
        rows.append({"device": view.device, "ends": sum(counts), "some_suppressed": hidden})
    return sorted(rows, key=lambda r: (-r["ends"], r["device"]))[:10]


def network_report(actor: Actor, *, since: str | None, until: str | None = None,
                   device: str | None = None, resolution: str | None = None,
                   purpose: str, reference: str | None = None,
                   root: Path | None = None) -> dict[str, Any]:
    """Raises Usage for bad input (before any decision) and AccessRefused (audited)."""
    span = parse_range(since, until)
    _check_resolution(span, resolution)
    k = config.k_anonymity()
    with access(actor, Action.READ, resource="quality:network", purpose=purpose,
                reference=reference, subject=f"network:{device or 'all'}",
                categories=NETWORK_CATEGORIES, required=NETWORK_CATEGORIES) as permit:
        report = build_network(root or store_root(), span, device=device,
                               resolution=resolution, k=k)
        report["decision"] = {"rule": permit.decision.rule, "purpose": purpose}
        permit.touched(NETWORK_FIELDS)
    return report


def _linked_sessions(subscriber: Subscriber, root: Path, span: ScanRange
                     ) -> tuple[list[Session], Any]:
    links = list(IdentityLink.objects.filter(subscriber=subscriber,
                                             kind__in=list(HOLDER_KINDS.values())))
    wanted: dict[str, set[str]] = {}
    for link in links:
        wanted.setdefault(link.kind, set()).add(link.value)
    if not wanted:
        return [], None
    table = scan(root, span, columns=(*SESSION_COLUMNS, "evidence"), identities=wanted)
    records = table.to_pylist()
    kept = []
    for session in sessions_of(table):
        record = records[session.rows[0]]
        # A link counts only for what happened while it was valid: a router that moved to
        # another household says nothing about this one after the move.
        if any(record.get(link.kind) == link.value
               and to_us(link.valid_from) < session.finish
               and (link.valid_to is None or to_us(link.valid_to) > session.start)
               for link in links):
            kept.append(session)
    return kept, table


def build_health(subscriber: Subscriber, root: Path, span: ScanRange) -> dict[str, Any]:
    sessions, table = _linked_sessions(subscriber, root, span)
    view = health(sessions, span.since, span.until, table)
    view["subscriber"] = {"id": subscriber.pk, "account_number": subscriber.account_number}
    view["plots"] = subscriber_plots(view)
    return view


def subscriber_health(actor: Actor, account: str, *, purpose: str, reference: str | None,
                      since: str | None = None, until: str | None = None,
                      root: Path | None = None) -> dict[str, Any]:
    span = parse_range(since, until, default_days=DEFAULT_HEALTH_DAYS)
    with access(actor, Action.READ, resource="quality:subscriber-health", purpose=purpose,
                reference=reference, subject=f"account:{account}",
                categories=HEALTH_CATEGORIES, required=HEALTH_REQUIRED) as permit:
        subscriber = Subscriber.objects.filter(account_number=account).first()
        if subscriber is None:
            raise SubjectNotFound(f"no subscriber with account {account}")
        permit.about(f"subscriber:{subscriber.pk}")
        view = build_health(subscriber, root or store_root(), span)
        view["decision"] = {"rule": permit.decision.rule, "purpose": purpose,
                            "reference": reference or ""}
        permit.touched(HEALTH_FIELDS)
    return view


def export_plot(actor: Actor, plot: str, *, account: str | None = None,
                since: str | None, until: str | None = None, device: str | None = None,
                resolution: str | None = None, purpose: str, reference: str | None = None,
                root: Path | None = None) -> str:
    """One plot as CSV: of the network report, or (with `account`) of one subscriber's
    health. Suppressed figures are written "< k", as shown."""
    scope = "subscriber" if account else "network"
    span = parse_range(since, until, default_days=DEFAULT_HEALTH_DAYS if account else 1)
    _check_resolution(span, resolution)
    k = config.k_anonymity()
    # A read by staff, not an `export`: the policy lets no service-quality data leave the
    # company, and the CSV goes to the same staff member's browser the page does.
    categories, required = ((HEALTH_CATEGORIES, HEALTH_REQUIRED) if account
                            else (NETWORK_CATEGORIES, NETWORK_CATEGORIES))
    with access(actor, Action.READ, resource=f"quality:{scope}-plot-csv", purpose=purpose,
                reference=reference, subject=f"{scope}:{account or device or 'all'}:{plot}",
                categories=categories, required=required) as permit:
        if account:
            subscriber = Subscriber.objects.filter(account_number=account).first()
            if subscriber is None:
                raise SubjectNotFound(f"no subscriber with account {account}")
            permit.about(f"subscriber:{subscriber.pk}:{plot}")
            plots = build_health(subscriber, root or store_root(), span)["plots"]
        else:
            plots = build_network(root or store_root(), span, device=device,
                                  resolution=resolution, k=k)["plots"]
        chosen = next((p for p in plots if p["id"] == plot), None)
        if chosen is None:
            raise Usage(f"no plot {plot!r}; one of {', '.join(p['id'] for p in plots)}")
        permit.touched([f"plot:{plot}"])
        return to_csv(chosen, k)
