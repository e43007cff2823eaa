"""A real log store for the quality tests: generated RADIUS logs ingested by `ingest_file`
into a private `$CPNIGUARD_HOME`, the default store every channel opens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bench.synthetic_store import SyntheticTruth, network_toml

from cpniguard.accounts.models import StaffUser
from cpniguard.connectivity.ingest import ingest_file
from cpniguard.connectivity.models import IdentityLink
from cpniguard.connectivity.store.schema import DAY_US
from cpniguard.quality.scan import ScanRange
from cpniguard.subscribers.models import Subscriber
from tests.quality.radius_scene import NASES, Outage, Scene, at

DAY = datetime(2024, 3, 5, tzinfo=UTC)
SINCE, UNTIL = "2024-03-05T00:00:00Z", "2024-03-06T00:00:00Z"
STORMY, CALM = 4, 6          # subscriber indexes in the scene (both on NASES[0])
OS_USER = "quality-tester"


def build(home: Path, scene: Scene) -> Path:
    root = home / "logstore"
    for path in scene.write(home / "logs"):
        ingest_file(path, "radius-detail", "UTC", root)
    return root


def link(subscriber: Subscriber, scene: Scene, index: int) -> None:
    IdentityLink.objects.create(subscriber=subscriber, kind=IdentityLink.Kind.USERNAME,
                                value=scene.user(index),
                                valid_from=datetime(2024, 1, 1, tzinfo=UTC))


@pytest.fixture
def network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, subscriber: Subscriber) -> Scene:
    """30 subscribers per NAS, a NAS restart at 09:30, one subscriber's reconnect storm at
    14:00 (linked to the `subscriber` fixture), another subscriber calm (linked to A1000002)."""
    monkeypatch.setenv("CPNIGUARD_HOME", str(tmp_path))
    monkeypatch.delenv("CPNIGUARD_LOGSTORE", raising=False)
    scene = Scene(DAY, per_nas=30, outages=[Outage(NASES[0], at(DAY, 9, 30), "restart")],
                  storms=[(STORMY, at(DAY, 14), 6)])
    build(tmp_path, scene)
    link(subscriber, scene, STORMY)
    calm = Subscriber.objects.create(account_number="A1000002", first_name="Lee",
                                     last_name="Okafor", service_started=DAY.date())
    link(calm, scene, CALM)
    return scene


@pytest.fixture
def as_role(monkeypatch: pytest.MonkeyPatch,
            make_staff: Callable[..., StaffUser]) -> Callable[[str], None]:
    for name in ("LOGNAME", "USER"):
        monkeypatch.setenv(name, OS_USER)

    def become(role: str) -> None:
        make_staff(role, os_username=OS_USER)

    return become


def synthetic_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   isp: SyntheticTruth) -> Path:
    """A home reading the synthetic ISP's store, with its POPs in network.toml."""
    monkeypatch.setenv("CPNIGUARD_HOME", str(tmp_path))
    monkeypatch.setenv("CPNIGUARD_LOGSTORE", str(isp.root))
    monkeypatch.delenv("CPNIGUARD_CGNAT_POOLS", raising=False)
    (tmp_path / "network.toml").write_text(network_toml())
    return tmp_path


def utc_day(isp: SyntheticTruth, number: int) -> ScanRange:
    """Day `number` (from 0) of the synthetic ISP, midnight to midnight UTC."""
    return ScanRange(isp.since + number * DAY_US, isp.since + (number + 1) * DAY_US)
