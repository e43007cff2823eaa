"""Who may see the quality figures, what is audited, and the k threshold.

Only the NOC: network figures under `network_quality` (no ticket), one subscriber's health
under `troubleshooting` with a ticket. Support and billing are refused, and the refusal is
audited. Figures covering fewer than k subscribers are suppressed in the network view and its
exports, never in one subscriber's troubleshooting view.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cpniguard.access import Actor
from cpniguard.access.gate import AccessRefused
from cpniguard.audit.models import AuditEntry
from cpniguard.connectivity.store.schema import to_us
from cpniguard.policy import Action, current_policy
from cpniguard.quality import config
from cpniguard.quality.scan import ScanRange, scan
from cpniguard.quality.services import export_plot, network_report, subscriber_health
from cpniguard.quality.sessions import sessions_of
from tests.quality.conftest import DAY, SINCE, UNTIL, build
from tests.quality.radius_scene import NASES, Scene

pytestmark = pytest.mark.django_db


def last_entry() -> AuditEntry:
    return AuditEntry.objects.order_by("-seq").first()  # type: ignore[return-value]


def test_the_policy_declares_k_and_the_noc_grants() -> None:
    policy = current_policy()
    assert config.k_anonymity() == 5
    assert "service_quality" in policy.categories
    grants = {g.id: g for g in policy.grants}
    assert grants["noc-network-quality"].categories == {"service_quality"}
    assert grants["noc-network-quality"].reference is None
    assert grants["noc-network-quality"].actions == {Action.READ}
    # No legal process may compel service-quality data.
    assert all("service_quality" not in kind.may_compel
               for kind in policy.legal_process.values())


def test_noc_reads_the_network_report_and_it_is_audited(
        network: Scene, actor_for: Callable[[str], Actor]) -> None:
    report = network_report(actor_for("noc"), since=SINCE, until=UNTIL,
                            purpose="network_quality")
    assert [d["device"] for d in report["devices"]] == list(NASES)
    assert [(i["device"], i["cause"]) for i in report["incidents"]] == [
        (NASES[0], "nas-restart")]
    entry = last_entry()
    assert (entry.event, entry.outcome, entry.rule, entry.subject) == (
        "quality:network:read", "allowed", "grant:noc-network-quality", "network:all")


@pytest.mark.parametrize(("role", "purpose", "reference", "rule"), [
    ("support", "network_quality", None, "deny:default"),
    ("billing", "network_quality", None, "deny:default"),
    ("support", "troubleshooting", "TKT-104233", "grant:support-troubleshooting:no-category"),
    ("billing", "billing", None, "grant:billing-billing:no-category"),
])
def test_support_and_billing_are_refused_the_network_view_and_audited(
        network: Scene, actor_for: Callable[[str], Actor], role: str, purpose: str,
        reference: str | None, rule: str) -> None:
    with pytest.raises(AccessRefused) as refused:
        network_report(actor_for(role), since=SINCE, until=UNTIL, purpose=purpose,
                       reference=reference)
    assert refused.value.decision.rule == rule
    entry = last_entry()
    assert (entry.event, entry.outcome, entry.role, entry.rule) == (
        "quality:network:read", "refused", role, rule)


@pytest.mark.parametrize(("role", "reference", "rule"), [
    ("support", "TKT-104233", "grant:support-troubleshooting:missing-category"),
    ("billing", "TKT-104233", "deny:default"),
    ("noc", None, "grant:noc-troubleshooting:reference-required"),
])
def test_subscriber_health_needs_the_noc_and_a_ticket(
        network: Scene, actor_for: Callable[[str], Actor], role: str,
        reference: str | None, rule: str) -> None:
    with pytest.raises(AccessRefused) as refused:
        subscriber_health(actor_for(role), "A1000001", purpose="troubleshooting",
                          reference=reference, since=SINCE, until=UNTIL)
    assert refused.value.decision.rule == rule
    assert (last_entry().event, last_entry().outcome) == (
        "quality:subscriber-health:read", "refused")


def test_figures_covering_fewer_than_k_subscribers_are_suppressed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        actor_for: Callable[[str], Actor]) -> None:
    monkeypatch.setenv("CPNIGUARD_HOME", str(tmp_path))
    scene = Scene(DAY, per_nas=3)  # three subscribers per NAS: below k = 5 everywhere
    root = build(tmp_path, scene)
    sessions = sessions_of(scan(root, ScanRange(to_us(DAY), to_us(DAY) + 86_400_000_000)))
    assert len(sessions) > 10  # there is something to hide
    report = network_report(actor_for("noc"), since=SINCE, until=UNTIL,
                            purpose="network_quality", resolution="1h")
    for view in report["devices"]:
        assert view["sessions"] is None
        assert view["subscribers"] is None
        values = view["series"]["active"]
        assert None in values
        assert all(v in (None, 0) for v in values)
    csv_text = export_plot(actor_for("noc"), f"{NASES[0]}:active", since=SINCE, until=UNTIL,
                           purpose="network_quality", resolution="1h")
    assert "< 5" in csv_text
    assert csv_text.startswith("time_utc,active sessions\n")
    rows = csv_text.splitlines()[1:]
    assert len(rows) == 24
    assert all(r.split(",")[1] in ("< 5", "0") for r in rows)
    entry = last_entry()
    assert (entry.event, entry.outcome, entry.subject) == (
        "quality:network-plot-csv:read", "allowed", f"network:all:{NASES[0]}:active")


def test_with_enough_subscribers_the_figures_are_shown(
        network: Scene, actor_for: Callable[[str], Actor]) -> None:
    report = network_report(actor_for("noc"), since=SINCE, until=UNTIL,
                            purpose="network_quality", resolution="1h")
    view = report["devices"][0]
    assert view["subscribers"] == 30
    assert max(v for v in view["series"]["active"] if v is not None) >= 20
    assert view["ends"]["nas-restart"] == network.truth[0].sessions
