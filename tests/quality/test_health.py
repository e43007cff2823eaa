"""One subscriber's connection health, through the gate and the CLI, on ingested logs."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cpniguard.access import Actor
from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main
from cpniguard.connectivity.models import IdentityLink
from cpniguard.quality.services import export_plot, subscriber_health
from cpniguard.subscribers.models import Subscriber
from tests.quality.conftest import CALM, SINCE, STORMY, UNTIL
from tests.quality.radius_scene import NASES, Scene

pytestmark = pytest.mark.django_db


def starts_in_logs(scene: Scene, home: Path, index: int) -> int:
    text = (home / "logs" / f"detail-{scene.nas_of(index)}-20240305").read_text()
    records = text.split("\n\n")
    return sum(1 for r in records if "Acct-Status-Type = Start" in r
               and f'"{scene.user(index)}"' in r)


def test_a_reconnect_storm_makes_the_verdict_poor_with_its_sessions(
        network: Scene, actor_for: Callable[[str], Actor], tmp_path: Path) -> None:
    view = subscriber_health(actor_for("noc"), "A1000001", purpose="troubleshooting",
                             reference="TKT-104233", since=SINCE, until=UNTIL)
    assert view["verdict"] == "poor"
    storm = next(f for f in view["findings"] if f["rule"] == "reconnect-storm")
    assert len(storm["sessions"]) >= 6
    stormy = [view["sessions"][n] for n in storm["sessions"]]
    assert all(s["seconds"] <= 600 for s in stormy[:6])
    # Every session of this user in the logs, and nobody else's.
    assert [d["sessions"] for d in view["sessions_per_day"]] == [
        starts_in_logs(network, tmp_path, STORMY)]
    assert {a["address"] for a in view["addresses"]} == {
        f"{network.address_of(STORMY)}/32"}
    assert view["disconnect_causes"]["Lost-Carrier"] >= 6  # the storm's sessions
    entry = AuditEntry.objects.order_by("-seq").first()
    assert entry is not None
    pk = Subscriber.objects.get(account_number="A1000001").pk
    assert (entry.event, entry.subject, entry.rule, entry.reference) == (
        "quality:subscriber-health:read", f"subscriber:{pk}", "grant:noc-troubleshooting",
        "TKT-104233")


def test_a_calm_subscriber_cut_only_by_the_nas_restart_is_degraded_not_poor(
        network: Scene, actor_for: Callable[[str], Actor], tmp_path: Path) -> None:
    view = subscriber_health(actor_for("noc"), "A1000002", purpose="troubleshooting",
                             reference="TKT-104233", since=SINCE, until=UNTIL)
    rules = {f["rule"] for f in view["findings"]}
    assert network.nas_of(CALM) == NASES[0]  # the NAS that restarted
    assert rules == {"nas-restarts"}
    assert view["verdict"] == "degraded"
    assert sum(d["sessions"] for d in view["sessions_per_day"]) == starts_in_logs(
        network, tmp_path, CALM)


def test_a_link_counts_only_while_it_is_valid(
        network: Scene, actor_for: Callable[[str], Actor]) -> None:
    IdentityLink.objects.filter(subscriber__account_number="A1000001").update(
        valid_from=datetime(2024, 3, 5, 15, tzinfo=UTC))  # after the storm
    view = subscriber_health(actor_for("noc"), "A1000001", purpose="troubleshooting",
                             reference="TKT-104233", since=SINCE, until=UNTIL)
    assert all(s["finish"] > "2024-03-05T15:00" for s in view["sessions"])
    assert "reconnect-storm" not in {f["rule"] for f in view["findings"]}


def test_the_subscriber_plot_exports_as_csv_under_the_ticket(
        network: Scene, actor_for: Callable[[str], Actor]) -> None:
    text = export_plot(actor_for("noc"), "per-day", account="A1000001", since=SINCE,
                       until=UNTIL, purpose="troubleshooting", reference="TKT-104233")
    assert text.splitlines()[0] == "time_utc,sessions begun,hours online"
    assert text.splitlines()[1].startswith("2024-03-05T00:00:00Z,")
    entry = AuditEntry.objects.order_by("-seq").first()
    assert entry is not None
    assert (entry.event, entry.rule) == ("quality:subscriber-plot-csv:read",
                                         "grant:noc-troubleshooting")


def test_the_cli_report_and_subscriber_commands(
        network: Scene, as_role: Callable[[str], None],
        capsys: pytest.CaptureFixture[str]) -> None:
    as_role("noc")
    assert main(["quality", "report", "--since", "2024-03-04T19:00:00-05:00",
                 "--until", UNTIL]) == 0
    text = capsys.readouterr().out
    assert "Incidents (>= 20 sessions and >= 30% of a device's active sessions ending " \
           "within 120 s): 1" in text
    assert f"2024-03-05T09:30:00+00:00 .. 2024-03-05T09:30:00+00:00  {NASES[0]}: " \
           "nas-restart" in text
    assert main(["quality", "subscriber", "A1000001", "--purpose", "troubleshooting",
                 "--reference", "TKT-104233", "--since", SINCE, "--until", UNTIL,
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "poor"
    assert main(["quality", "report", "--since", "2024-03-05T00:00:00"]) == 2
    assert "no offset or zone" in capsys.readouterr().err


def test_the_cli_refuses_support(network: Scene, as_role: Callable[[str], None],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    as_role("support")
    assert main(["quality", "subscriber", "A1000001", "--purpose", "troubleshooting",
                 "--reference", "TKT-104233"]) == 3
    assert "missing-category" in capsys.readouterr().err
