"""Speed tests against the plan: in one subscriber's health (verdict with evidence), in the
network view (a k-suppressed spread, exportable as CSV), and on the page."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client

from cpniguard.access import Actor
from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main
from cpniguard.connectivity.store.schema import to_us
from cpniguard.quality.services import (
    build_health,
    export_plot,
    network_report,
    parse_range,
    subscriber_health,
)
from cpniguard.quality.speedtest_figures import speed_distribution
from cpniguard.quality.speedtests import import_file
from cpniguard.subscribers.models import Service, Subscriber
from tests.quality.conftest import SINCE, UNTIL
from tests.quality.radius_scene import Scene

pytestmark = pytest.mark.django_db
HEADER = "account,measured_at,down_mbps,up_mbps,latency_ms,server,method\n"
TICKET = "TKT-104233"
RANGE = {"since": "2026-11-28T00:00:00Z", "until": "2026-12-01T00:00:00Z"}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CPNIGUARD_HOME", str(tmp_path))
    monkeypatch.delenv("CPNIGUARD_LOGSTORE", raising=False)
    return tmp_path


def feed(actor: Actor, folder: Path, rows: list[str], name: str = "feed.csv") -> None:
    path = folder / name
    path.write_text(HEADER + "".join(f"{r}\n" for r in rows))
    import_file(actor, path, "csv", purpose="network_quality")


def rows_of(account: str, downs: list[float], up: float = 280) -> list[str]:
    return [f"{account},2026-11-{28 + n // 10}T{10 + n % 10}:00:00Z,{d},{up},11,"
            f"speedtest.example.net,ookla" for n, d in enumerate(downs)]


def health(actor: Actor, home: Path, account: str = "A1000001") -> dict[str, object]:
    return subscriber_health(actor, account, purpose="troubleshooting", reference=TICKET,
                             root=home / "logstore", **RANGE)


def test_a_median_below_half_the_plan_over_three_tests_is_degraded_with_its_tests(
        subscriber: Subscriber, actor_for: Callable[[str], Actor], home: Path) -> None:
    noc = actor_for("noc")  # the subscriber's plan: Fiber 300, 300/300 Mbps
    feed(noc, home, rows_of("A1000001", [92.4, 101.0, 280.0, 88.7]))
    view = health(noc, home)
    speed = view["speed_tests"]
    assert isinstance(speed, dict)
    assert [t["down_share"] for t in speed["tests"]] == [0.308, 0.337, 0.933, 0.296]
    assert {t["plan"]["name"] for t in speed["tests"]} == {"Fiber 300"}
    assert speed["median_down_share"] == pytest.approx((0.308 + 0.337) / 2)
    assert view["verdict"] == "degraded"  # no session in the logs: the tests decide
    [finding] = view["findings"]  # type: ignore[misc]
    assert finding["rule"] == "slow-download"
    assert finding["speed_tests"] == [0, 1, 2, 3]
    assert finding["sessions"] == []
    assert "median download 32% of the plan over 4 speed tests" in finding["text"]
    assert "speed_tests" not in view["not_recorded"]  # type: ignore[operator]
    entry = AuditEntry.objects.order_by("-seq").first()
    assert entry is not None
    assert "service.plan" in entry.fields
    assert "services" in entry.categories


def test_two_slow_tests_are_not_enough_unless_the_network_file_says_so(
        subscriber: Subscriber, actor_for: Callable[[str], Actor], home: Path) -> None:
    noc = actor_for("noc")
    feed(noc, home, rows_of("A1000001", [60.0, 70.0]))
    assert health(noc, home)["verdict"] == "good"
    (home / "network.toml").write_text("[speed_tests]\nmin_tests = 2\ndegraded_below = 0.25\n")
    view = health(noc, home)
    assert view["verdict"] == "degraded"
    assert "degraded below 25% over 2 or more" in view["findings"][0]["text"]  # type: ignore[index]


def test_without_the_plan_the_tests_are_listed_but_decide_nothing(
        subscriber: Subscriber, actor_for: Callable[[str], Actor], home: Path) -> None:
    feed(actor_for("noc"), home, rows_of("A1000001", [92.4, 101.0, 88.7]))
    view = build_health(subscriber, home / "logstore",
                        parse_range(RANGE["since"], RANGE["until"]), show_plan=False)
    speed = view["speed_tests"]
    assert [t["down_mbps"] for t in speed["tests"]] == [92.4, 101.0, 88.7]
    assert all("plan" not in t and "down_share" not in t for t in speed["tests"])
    assert view["verdict"] == "unknown"  # no session, and no test compared with a plan
    assert view["findings"] == []


def test_each_test_is_compared_with_the_plan_of_its_own_day(
        subscriber: Subscriber, actor_for: Callable[[str], Actor], home: Path) -> None:
    Service.objects.filter(subscriber=subscriber, kind="broadband").update(
        ended=dt.date(2026, 11, 28))
    Service.objects.create(subscriber=subscriber, kind="broadband", plan="Fiber 1000",
                           down_mbps=1000, up_mbps=1000, started=dt.date(2026, 11, 29))
    feed(actor_for("noc"), home, ["A1000001,2026-11-28T23:30:00-01:00,150,150,9,s,ookla",
                                  "A1000001,2026-11-28T22:30:00Z,150,150,9,s,ookla"])
    tests = health(actor_for("noc"), home)["speed_tests"]["tests"]  # type: ignore[index]
    # 23:30 at -01:00 is 00:30 UTC on the 29th: the new plan already.
    assert [(t["plan"]["name"], t["down_share"]) for t in tests] == [
        ("Fiber 300", 0.5), ("Fiber 1000", 0.15)]
    # The network-wide spread takes the same plans: median of 50 % and 15 % is 32.5 %.
    spread = speed_distribution(to_us(dt.datetime(2026, 11, 28, tzinfo=dt.UTC)),
                                to_us(dt.datetime(2026, 12, 1, tzinfo=dt.UTC)), 1)
    assert spread["down"][3] == 1
    assert sum(spread["down"]) == 1


def test_the_spread_counts_each_subscriber_once_and_hides_small_bins(
        subscriber: Subscriber, actor_for: Callable[[str], Actor], home: Path) -> None:
    rows = rows_of("A1000001", [120.0, 130.0])  # 300 plan: median 41.7 %, alone in its bin
    for n in range(2, 8):
        account = f"A100000{n}"
        person = Subscriber.objects.create(account_number=account, first_name="Sam",
                                           last_name="Ito", service_started=dt.date(2020, 1, 1))
        Service.objects.create(subscriber=person, kind="broadband", plan="Fiber 100",
                               down_mbps=100, up_mbps=20, started=dt.date(2020, 1, 1))
        rows += rows_of(account, [94.0 + n, 96.0], up=19.5)
    feed(actor_for("noc"), home, rows)
    since, until = to_us(dt.datetime(2026, 11, 28, tzinfo=dt.UTC)), \
        to_us(dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    spread = speed_distribution(since, until, 5)
    assert spread["subscribers"] == 7
    assert spread["tests"] == 14
    assert spread["down"][4] is None          # one subscriber at 40-50 %: suppressed
    assert spread["down"][9] == 6             # six at 90-100 %
    assert spread["down"][:4] == [0, 0, 0, 0]
    # A1000001 uploads 280 of 300 (93 %), joining the six others' 97 %.
    assert spread["up"][9] == 7
    assert spread["up"][10] == 0
    few = speed_distribution(since, until, 8)
    assert few["subscribers"] is None
    assert few["median_down_share"] is None


def test_the_network_view_carries_the_spread_and_exports_it_as_csv(
        network: Scene, actor_for: Callable[[str], Actor], tmp_path: Path) -> None:
    feed(actor_for("noc"), tmp_path, ["A1000001,2024-03-05T10:00:00Z,150,150,9,s,ookla",
                                      "A1000002,2024-03-05T11:00:00Z,50,5,9,s,ookla"])
    Service.objects.create(subscriber=Subscriber.objects.get(account_number="A1000002"),
                           kind="broadband", plan="Fiber 100", down_mbps=100, up_mbps=20,
                           started=dt.date(2024, 1, 1))
    report = network_report(actor_for("noc"), since=SINCE, until=UNTIL,
                            purpose="network_quality")
    assert report["speed_tests"]["subscribers"] is None  # two subscribers: fewer than k = 5
    plot = next(p for p in report["plots"] if p["id"] == "speed:share-of-plan")
    assert plot["x_label"] == "% of plan"
    assert plot["series"][0]["values"][5] is None
    text = export_plot(actor_for("noc"), "speed:share-of-plan", since=SINCE, until=UNTIL,
                       purpose="network_quality")
    lines = text.splitlines()
    assert lines[0] == "share_of_plan,download,upload"
    # Both download at half their plan; upload 50 % and 25 %: every non-empty bin is < k.
    assert lines[6] == "50-60 %,< 5,< 5"
    assert lines[3] == "20-30 %,0,< 5"
    assert lines[11] == ">= 100 %,0,0"
    entry = AuditEntry.objects.order_by("-seq").first()
    assert entry is not None
    assert entry.event == "quality:network-plot-csv:read"


def test_the_cli_and_the_page_list_the_tests_with_their_share(
        subscriber: Subscriber, actor_for: Callable[[str], Actor], home: Path,
        as_role: Callable[[str], None], capsys: pytest.CaptureFixture[str]) -> None:
    feed(actor_for("noc"), home, rows_of("A1000001", [92.4, 101.0, 88.7]))
    as_role("noc")
    assert main(["quality", "subscriber", "A1000001", "--purpose", "troubleshooting",
                 "--reference", TICKET, "--since", RANGE["since"], "--until",
                 RANGE["until"]]) == 0
    out = capsys.readouterr().out
    assert "verdict: degraded" in out
    assert "[slow-download] median download 31% of the plan over 3 speed tests" in out
    assert "(speed tests T1, T2, T3)" in out
    assert "vs Fiber 300 300/300 Mbps: down 31%, up 93%" in out
    assert main(["quality", "subscriber", "A1000001", "--purpose", "troubleshooting",
                 "--reference", TICKET, "--json", "--since", RANGE["since"]]) == 0
    assert len(json.loads(capsys.readouterr().out)["speed_tests"]["tests"]) == 3

    client = Client()
    client.force_login(StaffUser.objects.get(os_username="quality-tester"))
    page = client.get("/network/subscriber/", {"account": "A1000001",
                                               "purpose": "troubleshooting",
                                               "reference": TICKET, **RANGE})
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="speed-tests"' in html
    assert "Fiber 300 (300/300)" in html
    assert "31 %" in html
    assert "speed tests T1, T2, T3" in html


def test_support_is_refused_the_health_view_that_shows_speed_tests(
        subscriber: Subscriber, home: Path, make_staff: Callable[..., StaffUser]) -> None:
    client = Client()
    client.force_login(make_staff("support"))
    page = client.get("/network/subscriber/", {"account": "A1000001",
                                               "purpose": "troubleshooting",
                                               "reference": TICKET, **RANGE})
    assert page.status_code == 403
    entry = AuditEntry.objects.order_by("-seq").first()
    assert entry is not None
    assert (entry.event, entry.outcome) == (
        "quality:subscriber-health:read", "refused")
