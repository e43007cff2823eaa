"""Disconnect causes and usage in the health view and the network view, from ingested logs.

The detail files are written with the demo generator's record writer (the format the real
parser reads; counters with Gigawords) and ingested with `ingest_file`; the figures are
checked against what was written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from cpniguard.access import Actor
from cpniguard.accounts.models import StaffUser
from cpniguard.accounts.twofactor import SESSION_KEY
from cpniguard.cli import main
from cpniguard.connectivity.generator_formats import counters, radius_record
from cpniguard.connectivity.ingest import ingest_file
from cpniguard.connectivity.models import IdentityLink
from cpniguard.policy import current_policy
from cpniguard.quality.services import export_plot, network_report, subscriber_health
from cpniguard.subscribers.models import Subscriber

pytestmark = pytest.mark.django_db

DAY = int(datetime(2025, 3, 4, tzinfo=UTC).timestamp())
SINCE, UNTIL = "2025-03-04T00:00:00Z", "2025-03-05T00:00:00Z"
NAS1, NAS2 = "192.0.2.1", "192.0.2.2"
GIGA = 2**32
HOUR = 3600


def user(index: int) -> str:
    return f"user{index:04d}@example.net"


class Logs:
    """Sessions written as detail records, and what was written, for the expected figures."""

    def __init__(self) -> None:
        self.records: dict[str, list[tuple[int, str]]] = {NAS1: [], NAS2: []}
        self.sessions: list[dict[str, object]] = []

    def session(self, index: int, nas: str, start: int, stop: int, cause: str,
                octets: tuple[int, int], *, prefix: str = "") -> None:
        sid = f"{index:04X}{start:X}"
        common = [("Acct-Session-Id", f'"{sid}"'), ("User-Name", f'"{user(index)}"'),
                  ("NAS-IP-Address", nas), ("Framed-IP-Address", f"198.51.100.{index + 1}")]
        if prefix:
            common.append(("Delegated-IPv6-Prefix", prefix))
        half = (octets[0] // 2, octets[1] // 2)
        self.put(nas, start, [*common, ("Acct-Status-Type", "Start")])
        self.put(nas, start + (stop - start) // 2, [*common, ("Acct-Status-Type",
                                                              "Interim-Update"),
                                                    *counters(*half)])
        self.put(nas, stop, [*common, ("Acct-Status-Type", "Stop"), *counters(*octets),
                             ("Acct-Session-Time", str(stop - start)),
                             ("Acct-Terminate-Cause", cause)])
        self.sessions.append({"index": index, "nas": nas, "stop": stop, "cause": cause,
                              "in": octets[0], "out": octets[1]})

    def put(self, nas: str, at: int, attrs: list[tuple[str, str]]) -> None:
        self.records[nas].append((at, radius_record(at, ZoneInfo("UTC"), [
            *attrs, ("Event-Timestamp", str(at))])))

    def write(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for nas, records in self.records.items():
            path = directory / f"detail-{nas}"
            path.write_text("".join(text for _, text in sorted(records)), encoding="utf-8")
            paths.append(path)
        return paths


def scene() -> Logs:
    logs = Logs()
    # NAS1: six subscribers, five of them cut by Lost-Carrier around 10:00; one hangs up.
    for index in range(6):
        cause = "Lost-Carrier" if index < 5 else "User-Request"
        octets = (5 * GIGA + 123, 7 * GIGA) if index == 0 else (1_000_000 * (index + 1),
                                                                  9_000_000 * (index + 1))
        logs.session(index, NAS1, DAY + 8 * HOUR, DAY + 10 * HOUR + index * 60, cause, octets,
                     prefix="2001:db8:100::/56" if index == 1 else "")
    # The troubled subscriber (index 0) keeps losing the line through the day.
    for number, cause in enumerate(("Lost-Carrier", "Port-Error", "Lost-Carrier",
                                    "Port-Error", "Lost-Carrier")):
        start = DAY + (12 + 2 * number) * HOUR
        logs.session(0, NAS1, start, start + 1800, cause, (2_000_000, 3_000_000))
    # NAS2: two subscribers only, fewer than k.
    for index in (6, 7):
        logs.session(index, NAS2, DAY + 9 * HOUR, DAY + 11 * HOUR, "Idle-Timeout",
                     (4_000_000, 8_000_000))
    return logs


@pytest.fixture
def written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, subscriber: Subscriber) -> Logs:
    monkeypatch.setenv("CPNIGUARD_HOME", str(tmp_path))
    monkeypatch.delenv("CPNIGUARD_LOGSTORE", raising=False)
    logs = scene()
    for path in logs.write(tmp_path / "logs"):
        ingest_file(path, "radius-detail", "UTC", tmp_path / "logstore")
    IdentityLink.objects.create(subscriber=subscriber, kind=IdentityLink.Kind.USERNAME,
                                value=user(0), valid_from=datetime(2025, 1, 1, tzinfo=UTC))
    return logs


def test_health_shows_causes_and_usage_and_line_faults_make_the_verdict(
        written: Logs, actor_for: Callable[[str], Actor]) -> None:
    view = subscriber_health(actor_for("noc"), "A1000001", purpose="troubleshooting",
                             reference="TKT-104233", since=SINCE, until=UNTIL)
    mine = [s for s in written.sessions if s["index"] == 0]
    assert view["disconnect_causes"] == {"Lost-Carrier": 4, "Port-Error": 2}
    assert [s["cause"] for s in view["sessions"]] == [s["cause"] for s in mine]
    usage = view["usage"]
    assert (usage["octets_in"], usage["octets_out"]) == (
        sum(int(str(s["in"])) for s in mine), sum(int(str(s["out"])) for s in mine))
    assert usage["per_day"] == [{"day": "2025-03-04", "octets_in": usage["octets_in"],
                                 "octets_out": usage["octets_out"]}]
    assert view["sessions"][0]["octets_in"] == 5 * GIGA + 123  # Gigawords applied
    faults = next(f for f in view["findings"] if f["rule"] == "line-faults")
    assert faults["verdict"] == "poor"
    assert view["verdict"] == "poor"
    assert faults["sessions"] == list(range(6))
    assert "Lost-Carrier 4, Port-Error 2" in faults["text"]
    assert "disconnect_causes" not in view["not_recorded"]
    plots = {p["id"]: p for p in view["plots"]}
    assert plots["usage"]["series"][0]["values"] == [round(usage["octets_in"] / 1e6, 3)]
    assert {s["label"]: s["values"] for s in plots["causes"]["series"]} == {
        "Lost-Carrier": [4], "Port-Error": [2]}


def test_network_view_counts_causes_per_device_and_suppresses_below_k(
        written: Logs, actor_for: Callable[[str], Actor]) -> None:
    report = network_report(actor_for("noc"), since=SINCE, until=UNTIL, resolution="1h",
                            purpose="network_quality")
    devices = {d["device"]: d for d in report["devices"]}
    # Lost-Carrier: eight sessions of five subscribers; the rest cover fewer than k = 5.
    assert devices[NAS1]["causes"] == {"Lost-Carrier": 8, "Port-Error": None,
                                       "User-Request": None}
    assert devices[NAS2]["causes"] == {"Idle-Timeout": None}
    first = [s for s in written.sessions
             if s["nas"] == NAS1 and int(str(s["stop"])) < DAY + 11 * HOUR]
    assert devices[NAS1]["usage"]["octets_in"] == sum(
        int(str(s["in"])) for s in written.sessions if s["nas"] == NAS1)
    assert devices[NAS2]["usage"] == {"octets_in": None, "octets_out": None}
    # Per hour: the 10:00 bucket holds the six Stops of six subscribers; later hours one.
    series = devices[NAS1]["usage_series"]["octets_in"]
    assert series[10] == sum(int(str(s["in"])) for s in first)
    assert series[12] is None
    assert series[0] == 0
    cause_series = devices[NAS1]["cause_series"]["Lost-Carrier"]
    assert cause_series[10] == 5
    assert cause_series[12] is None
    plots = {p["id"]: p for p in report["plots"]}
    assert {s["label"] for s in plots[f"{NAS1}:causes"]["series"]} == {
        "Lost-Carrier", "Port-Error", "User-Request"}
    assert plots[f"{NAS1}:usage"]["series"][0]["values"][10] == round(series[10] / 1e6, 3)
    assert f"{NAS2}:usage" not in plots  # every figure of it suppressed: nothing to draw


def test_the_cause_and_usage_plots_export_as_csv_with_suppressed_cells(
        written: Logs, actor_for: Callable[[str], Actor]) -> None:
    noc = actor_for("noc")
    text = export_plot(noc, f"{NAS1}:causes", since=SINCE, until=UNTIL, resolution="1h",
                       purpose="network_quality")
    lines = text.splitlines()
    assert lines[0] == "time_utc,Lost-Carrier,Port-Error,User-Request"
    assert lines[1 + 10] == "2025-03-04T10:00:00Z,5,0,< 5"
    text = export_plot(noc, "usage", account="A1000001", since=SINCE, until=UNTIL,
                       purpose="troubleshooting", reference="TKT-104233")
    assert text.splitlines()[1] == "2025-03-04T00:00:00Z,21484.837,30079.771"


def _noc_client() -> Client:
    client = Client()
    client.force_login(StaffUser.objects.get(os_username="quality-tester"))
    if current_policy().roles["noc"].second_factor:
        session = client.session
        session[SESSION_KEY] = True
        session.save()
    return client


def test_the_pages_and_the_cli_show_causes_and_usage(
        written: Logs, make_staff: Callable[..., StaffUser], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    make_staff("noc", os_username="quality-tester")
    client = _noc_client()
    page = client.get("/network/subscriber/", {"account": "A1000001",
                                               "purpose": "troubleshooting",
                                               "reference": "TKT-104233", "since": SINCE,
                                               "until": UNTIL})
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="disconnect-causes"' in html
    assert "Lost-Carrier: 4" in html
    assert 'data-testid="usage-per-day"' in html
    assert "20.0\xa0GB" in html
    page = client.get("/network/", {"since": SINCE, "until": UNTIL, "resolution": "1h",
                                    "purpose": "network_quality"})
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="causes-usage"' in html
    assert "Lost-Carrier 8, Port-Error &lt; 5" in html
    for name in ("LOGNAME", "USER"):
        monkeypatch.setenv(name, "quality-tester")
    assert main(["quality", "report", "--since", SINCE, "--until", UNTIL]) == 0
    text = capsys.readouterr().out
    assert f"{NAS1:<22} Lost-Carrier 8, Port-Error < 5, User-Request < 5" in text
    assert f"{NAS2:<22} Idle-Timeout < 5; usage < 5 / < 5" in text
    assert main(["quality", "subscriber", "A1000001", "--purpose", "troubleshooting",
                 "--reference", "TKT-104233", "--since", SINCE, "--until", UNTIL,
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["disconnect_causes"]["Port-Error"] == 2


def test_support_is_refused_the_causes_in_the_health_view(
        written: Logs, actor_for: Callable[[str], Actor]) -> None:
    from cpniguard.access import AccessRefused

    with pytest.raises(AccessRefused):
        subscriber_health(actor_for("support"), "A1000001", purpose="troubleshooting",
                          reference="TKT-104233", since=SINCE, until=UNTIL)
