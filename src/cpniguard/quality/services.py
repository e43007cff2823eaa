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
from cpniguard.connectivity.store.schema import to_us
from cpniguard.policy import Action
from cpniguard.quality import config
from cpniguard.quality.health import health
from cpniguard.quality.network import choose_resolution
from cpniguard.quality.plots import subscriber_plots, to_csv
from cpniguard.quality.report import build_network
from cpniguard.quality.scan import SESSION_COLUMNS, ScanRange, scan
from cpniguard.quality.sessions import Session, sessions_of
from cpniguard.quality.speedtest_figures import (
    add_speed_tests,
    is_speed_plot,
    speed_plot_csv,
    speed_rule,
    subscriber_speed,
)
from cpniguard.subscribers.models import Subscriber

NETWORK_CATEGORIES = frozenset({"service_quality"})
# `services` (optional): the plan speed tests are compared with; masked, no shares are shown.
HEALTH_CATEGORIES = frozenset({"service_quality", "connectivity_logs", "account", "services"})
HEALTH_REQUIRED = frozenset({"service_quality", "connectivity_logs"})
NETWORK_FIELDS = ("devices", "pops", "access_devices", "incidents", "pools", "port_blocks",
                  "speed_tests")
HEALTH_FIELDS = ("sessions", "addresses", "flags", "findings", "verdict", "speed_tests")
MAX_RANGE = timedelta(days=31)
DEFAULT_HEALTH_DAYS = 7


def store_root() -> Path:
    """The embedded store the rest of cpniguard writes (the quality scan reads its files)."""
    from cpniguard.connectivity.store_config import embedded_root

    return embedded_root(tool="the quality tools")  # refuses ClickHouse (a Usage error)


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


def _scope(device: str | None, pop: str | None) -> str:
    if device and pop:
        raise Usage("ask for one device or one POP, not both")
    return f"pop={pop}" if pop else device or "all"


def network_report(actor: Actor, *, since: str | None, until: str | None = None,
                   device: str | None = None, resolution: str | None = None,
                   purpose: str, reference: str | None = None,
                   root: Path | None = None, pop: str | None = None) -> dict[str, Any]:
    """Raises Usage for bad input (before any decision) and AccessRefused (audited)."""
    span = parse_range(since, until)
    _check_resolution(span, resolution)
    scope = _scope(device, pop)
    k = config.k_anonymity()
    with access(actor, Action.READ, resource="quality:network", purpose=purpose,
                reference=reference, subject=f"network:{scope}",
                categories=NETWORK_CATEGORIES, required=NETWORK_CATEGORIES) as permit:
        report = build_network(root or store_root(), span, device=device, pop=pop,
                               resolution=resolution, k=k)
        add_speed_tests(report, span.since, span.until, k)
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


def build_health(subscriber: Subscriber, root: Path, span: ScanRange, *,
                 show_plan: bool = False) -> dict[str, Any]:
    try:
        rule = speed_rule()
    except ValueError as error:  # BadNetworkConfig
        raise Usage(str(error)) from None
    sessions, table = _linked_sessions(subscriber, root, span)
    speed, slow = subscriber_speed(subscriber.pk, span.since, span.until,
                                   show_plan=show_plan, rule=rule)
    view = health(sessions, span.since, span.until, table, more=slow,
                  measured=bool(speed["compared"]))
    view["speed_tests"] = speed
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
        show_plan = "services" in permit.decision.granted
        view = build_health(subscriber, root or store_root(), span, show_plan=show_plan)
        view["decision"] = {"rule": permit.decision.rule, "purpose": purpose,
                            "reference": reference or ""}
        permit.touched(HEALTH_FIELDS + (("service.plan",) if show_plan else ()))
    return view


def export_plot(actor: Actor, plot: str, *, account: str | None = None,
                since: str | None, until: str | None = None, device: str | None = None,
                resolution: str | None = None, purpose: str, reference: str | None = None,
                root: Path | None = None, pop: str | None = None) -> str:
    """One plot as CSV: of the network report, or (with `account`) of one subscriber's
    health. Suppressed figures are written "< k", as shown."""
    scope = "subscriber" if account else "network"
    span = parse_range(since, until, default_days=DEFAULT_HEALTH_DAYS if account else 1)
    _check_resolution(span, resolution)
    where = account or _scope(device, pop)
    k = config.k_anonymity()
    # A read by staff, not an `export`: the policy lets no service-quality data leave the
    # company, and the CSV goes to the same staff member's browser the page does.
    categories, required = ((HEALTH_CATEGORIES, HEALTH_REQUIRED) if account
                            else (NETWORK_CATEGORIES, NETWORK_CATEGORIES))
    with access(actor, Action.READ, resource=f"quality:{scope}-plot-csv", purpose=purpose,
                reference=reference, subject=f"{scope}:{where}:{plot}",
                categories=categories, required=required) as permit:
        if account:
            subscriber = Subscriber.objects.filter(account_number=account).first()
            if subscriber is None:
                raise SubjectNotFound(f"no subscriber with account {account}")
            permit.about(f"subscriber:{subscriber.pk}:{plot}")
            plots = build_health(subscriber, root or store_root(), span,
                                 show_plan="services" in permit.decision.granted)["plots"]
        else:
            report = build_network(root or store_root(), span, device=device, pop=pop,
                                   resolution=resolution, k=k)
            add_speed_tests(report, span.since, span.until, k)
            plots = report["plots"]
        chosen = next((p for p in plots if p["id"] == plot), None)
        if chosen is None:
            raise Usage(f"no plot {plot!r}; one of {', '.join(p['id'] for p in plots)}")
        permit.touched([f"plot:{plot}"])
        return speed_plot_csv(chosen, k) if is_speed_plot(chosen) else to_csv(chosen, k)
