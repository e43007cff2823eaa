"""`cpniguard demo --no-serve`: seeds once, never twice, and never shows passwords again."""

from __future__ import annotations

import pytest

from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main
from cpniguard.demo.staff import roster
from cpniguard.home import home
from cpniguard.policy import Policy
from cpniguard.quality.models import SpeedTest
from cpniguard.subscribers.models import Interaction, Subscriber

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LOGNAME", "USER"):
        monkeypatch.setenv(name, "demo-operator")


def test_second_run_does_not_reseed_or_reprint_passwords(
    capsys: pytest.CaptureFixture[str], policy: Policy
) -> None:
    assert main(["demo", "--no-serve", "--subscribers", "40", "--seed", "5"]) == 0
    first = capsys.readouterr().out
    admin = StaffUser.objects.get(username="admin1")
    assert "shown once" in first
    assert "otpauth://totp/" in first
    assert "'demo-operator' acts as admin1" in first
    counts = (Subscriber.objects.count(), Interaction.objects.count(),
              StaffUser.objects.count())
    assert counts[0] == 40
    assert counts[2] == len(roster(policy))
    # The NOC's pages have pools, POPs and a speed-test feed to show, imported under audit.
    network = (home() / "network.toml").read_text()
    assert "[pools.pppoe-public]" in network
    assert "[pops.millbrook]" in network
    assert SpeedTest.objects.exists()
    assert AuditEntry.objects.filter(event="quality:speedtests:import", role="noc",
                                     outcome="allowed").count() == 1
    assert main(["demo", "--no-serve", "--subscribers", "40", "--seed", "5"]) == 0
    second = capsys.readouterr().out
    assert "not seeding again" in second
    assert "'demo-operator' acts as admin1 (admin)" in second
    assert "shown once" not in second
    assert "otpauth" not in second
    assert (Subscriber.objects.count(), Interaction.objects.count(),
            StaffUser.objects.count()) == counts
    assert StaffUser.objects.get(username="admin1").password == admin.password
    assert AuditEntry.objects.filter(event="demo:seed").count() == 1


def test_reseed_replaces_demo_data(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--no-serve", "--subscribers", "30"]) == 0
    old_hash = StaffUser.objects.get(username="support1").password
    assert main(["demo", "--no-serve", "--subscribers", "20", "--reseed"]) == 0
    assert "shown once" in capsys.readouterr().out
    assert Subscriber.objects.count() == 20
    assert StaffUser.objects.get(username="support1").password != old_hash
    assert AuditEntry.objects.filter(event="demo:seed").count() == 2
    wipe = AuditEntry.objects.get(event="demo:wipe")
    assert wipe.subject == "demo:wipe/subscribers:30/staff:12"


def test_reseed_refuses_a_database_the_demo_did_not_seed(
    subscriber: Subscriber, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--no-serve", "--reseed"]) == 1
    assert "refusing to reseed" in capsys.readouterr().out
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()
