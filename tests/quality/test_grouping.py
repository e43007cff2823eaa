"""Grouping per NAS, access device and POP, and outages found at device and POP level.

The store is the benchmark's synthetic ISP at a small size (`bench/synthetic_store.py`,
written through the store's real writer): four POPs of three NASes, a DHCP server and a
CGNAT box each, OLTs named by the leases' circuit ids, a NAS restart on day 1, a POP cut on
day 3, days 0 and 2 quiet. The column fold is checked against the per-row reference
(`sessions_of`) on it and on the RADIUS scene ingested from real detail-file text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from bench.synthetic_store import (
    NAS_PER_POP,
    POPS,
    SyntheticTruth,
    build_store,
    nas_name,
    network_toml,
    pop_name,
)

from cpniguard.access import Actor
from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main as cli
from cpniguard.connectivity.network import BadNetworkConfig
from cpniguard.connectivity.store.schema import DAY_US, from_us, to_us
from cpniguard.quality import config
from cpniguard.quality.config import OutageRule
from cpniguard.quality.folding import fold, to_sessions
from cpniguard.quality.groups import grouping
from cpniguard.quality.outages import Incident, detect_groups
from cpniguard.quality.plots import INCIDENT_COLUMNS
from cpniguard.quality.scan import ScanRange, scan
from cpniguard.quality.services import export_plot, network_report
from cpniguard.quality.sessions import sessions_of
from tests.quality.conftest import build, synthetic_home, utc_day
from tests.quality.radius_scene import NASES, Outage, Scene, at

pytestmark = pytest.mark.django_db
WINDOW_US = OutageRule().window_seconds * 1_000_000


@pytest.fixture(scope="module")
def isp(tmp_path_factory: pytest.TempPathFactory) -> SyntheticTruth:
    root = tmp_path_factory.mktemp("synthetic") / "logstore"
    return build_store(root, 60_000, 4, seed=5)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isp: SyntheticTruth) -> Path:
    return synthetic_home(tmp_path, monkeypatch, isp)


def incidents_of(isp: SyntheticTruth, number: int, rule: OutageRule,
                 topology: config.Topology) -> tuple[list[Incident], list[Incident]]:
    span = utc_day(isp, number)
    folded = fold(scan(isp.root, span))
    return tuple(detect_groups(folded, grouping(folded, topology, level), rule,  # type: ignore[return-value]
                               span.since, span.until) for level in ("nas", "pop"))


# ---------------------------------------------------------------- network.toml

def test_pops_and_access_devices_are_read_from_network_toml(home: Path) -> None:
    topology = config.topology()
    assert topology.pop_of(nas_name(1, 2)) == pop_name(1)
    assert topology.pop_of("192.0.2.201") == pop_name(1)
    assert topology.access_of("olt-3-7/1/12") == "olt-3-7"
    assert topology.access_of("not-an-olt") == ""
    (home / "network.toml").write_text(
        'access_pattern = "^(?P<access>[a-z]+-[0-9]+)"\n[access.big-olt]\n'
        'circuit_prefix = ["olt-1/", "olt-1/1"]\n[access.small-olt]\n'
        'circuit_prefix = "olt-1/10"\n')
    topology = config.topology()
    # The longest declared prefix wins, and a declared prefix wins over the pattern.
    assert topology.access_of("olt-1/10/4") == "small-olt"
    assert topology.access_of("olt-1/12") == "big-olt"
    assert topology.access_of("olt-2/3") == "olt-2"


def test_without_pops_each_device_is_its_own_group(home: Path) -> None:
    (home / "network.toml").write_text('cgnat_public_pools = ["198.19.0.0/16"]\n')
    topology = config.topology()
    assert not topology.has_pops
    assert not topology.has_access
    assert topology.pop_of("192.0.2.10") == "192.0.2.10"
    (home / "network.toml").unlink()
    assert config.topology() == config.Topology()


@pytest.mark.parametrize(("text", "words"), [
    ('[pops.a]\ndevices = ["192.0.2.1"]\n[pops.b]\ndevices = ["192.0.2.1"]\n',
     "device 192.0.2.1 is in both pops.a and pops.b"),
    ("[pops.a]\ndevices = 3\n", "pops.a.devices must be a list"),
    ('access_pattern = "^(olt"\n', "access_pattern: missing )"),
    ('access_pattern = "^olt"\n', "needs a named group (?P<access>...)"),
    ("[access.x]\n", "access.x.circuit_prefix must be a list"),
])
def test_a_bad_topology_is_refused_with_its_place(home: Path, text: str, words: str) -> None:
    (home / "network.toml").write_text(text)
    with pytest.raises(BadNetworkConfig) as bad:
        config.topology()
    assert words in str(bad.value)


# ---------------------------------------------------------------- folding

def test_the_column_fold_agrees_with_the_per_row_reference(isp: SyntheticTruth,
                                                            tmp_path: Path) -> None:
    for number in range(isp.days):
        table = scan(isp.root, utc_day(isp, number))
        assert to_sessions(fold(table), table) == sessions_of(table)
    scene = Scene(datetime(2024, 3, 5, tzinfo=UTC), per_nas=20,
                  outages=[Outage(NASES[0], at(datetime(2024, 3, 5, tzinfo=UTC), 9), "restart")],
                  storms=[(3, at(datetime(2024, 3, 5, tzinfo=UTC), 14), 6)])
    root = build(tmp_path, scene)
    begin = to_us(datetime(2024, 3, 5, tzinfo=UTC))
    for span in (ScanRange(begin, begin + DAY_US), ScanRange(begin + 9 * 3600_000_000,
                                                             begin + 15 * 3600_000_000)):
        table = scan(root, span)
        assert len(table) > 50
        assert to_sessions(fold(table), table) == sessions_of(table)


# ---------------------------------------------------------------- outages

def test_a_pop_cut_is_found_at_pop_level_with_its_start_and_count(
        home: Path, isp: SyntheticTruth) -> None:
    nas_restart, pop_cut = isp.outages
    assert pop_cut.level == "pop"
    assert pop_cut.sessions > 200
    devices, pops = incidents_of(isp, 3, OutageRule(), config.topology())
    [incident] = pops
    assert (incident.level, incident.device, incident.cause) == ("pop", pop_name(1),
                                                                 "mass-disconnect")
    # Within a window of the truth: an ordinary end just before the cut may open the burst.
    assert abs(incident.start - pop_cut.at) <= WINDOW_US
    # The detector keeps ends within a quarter window of the burst's edge.
    assert pop_cut.at + 50_000_000 <= incident.end <= pop_cut.at + 60_000_000 + WINDOW_US // 4
    assert set(incident.devices) >= {nas_name(1, n) for n in range(NAS_PER_POP)}
    # Every session the cut ended, plus the few ordinary ends that fell in the same minute.
    assert pop_cut.sessions <= incident.sessions <= pop_cut.sessions + 8
    # Each NAS of the POP is also an incident of its own, with its part of the count.
    assert sorted(i.device for i in devices) == [nas_name(1, n) for n in range(NAS_PER_POP)]
    assert sum(i.sessions for i in devices) >= pop_cut.sessions
    assert nas_restart.level == "nas"


def test_only_the_pop_level_sees_a_cut_each_nas_shows_below_the_threshold(
        home: Path, isp: SyntheticTruth) -> None:
    per_nas = isp.outages[1].sessions // NAS_PER_POP
    rule = OutageRule(min_sessions=per_nas + 40, min_share=0.3, window_seconds=120)
    devices, pops = incidents_of(isp, 3, rule, config.topology())
    assert devices == []
    assert [(i.level, i.device) for i in pops] == [("pop", pop_name(1))]


def test_the_nas_restart_is_found_on_its_nas_and_not_as_a_pop(
        home: Path, isp: SyntheticTruth, actor_for: Callable[[str], Actor]) -> None:
    restart = isp.outages[0]
    devices, pops = incidents_of(isp, 1, OutageRule(), config.topology())
    [incident] = devices
    report = network_report(actor_for("noc"), purpose="network_quality", device=restart.group,
                            **since_until(isp, 1))
    [shown] = report["incidents"]
    # Proof from the records that closed the sessions (the synthetic store has no
    # Accounting-On line of its own: see test_quality_api for that on real detail files).
    assert shown["evidence"]
    assert {e["file"] for e in shown["evidence"]} == {
        f"/var/log/synthetic/radius-{(isp.since // DAY_US) + 1}"}
    assert (incident.device, incident.cause) == (restart.group, "nas-restart")
    assert incident.start == restart.at
    assert restart.sessions <= incident.sessions <= restart.sessions + 3
    # One NAS of three restarting is a third of the POP's sessions: above the POP's share too.
    assert [i.device for i in pops] in ([], [pop_name(0)])


@pytest.mark.parametrize("number", [0, 2])
def test_quiet_days_have_no_incident_at_any_level(home: Path, isp: SyntheticTruth,
                                                  number: int) -> None:
    assert number in isp.quiet_days
    devices, pops = incidents_of(isp, number, OutageRule(), config.topology())
    assert (devices, pops) == ([], [])


# ---------------------------------------------------------------- the report

def since_until(isp: SyntheticTruth, number: int) -> dict[str, str]:
    span = utc_day(isp, number)
    return {"since": from_us(span.since).isoformat(), "until": from_us(span.until).isoformat()}


def test_the_report_groups_per_nas_pop_access_device_and_cgnat_pool(
        home: Path, isp: SyntheticTruth, actor_for: Callable[[str], Actor]) -> None:
    report = network_report(actor_for("noc"), purpose="network_quality", **since_until(isp, 3))
    total = report["overall"]["sessions"]
    assert total > 1000
    assert sum(v["sessions"] for v in report["devices"]) == total
    assert [v["device"] for v in report["pops"]] == [pop_name(p) for p in range(POPS)]
    assert sum(v["sessions"] for v in report["pops"]) == total
    assert {v["level"] for v in report["pops"]} == {"pop"}
    dhcp = sum(v["sessions"] for v in report["devices"] if v["source"] == "dhcp")
    assert sum(v["sessions"] for v in report["access_devices"]) == dhcp
    assert report["access_devices_total"] == len(report["access_devices"]) > POPS
    assert all(v["device"].startswith("olt-") for v in report["access_devices"])
    [cgnat] = report["port_blocks"]["pools"]
    assert (cgnat["pool"], cgnat["level"]) == ("198.19.0.0/16", "cgnat-pool")
    assert 0 < cgnat["peak_blocks"] <= cgnat["capacity_blocks"]
    levels = [(i["level"], i["group"]) for i in report["incidents"]]
    # Each incident's proof: the files its Stops came from, with their hash.
    for incident in report["incidents"]:
        proof, *others = incident["evidence"]  # most ends first
        assert proof["file"] == f"/var/log/synthetic/radius-{(isp.since // DAY_US) + 3}"
        assert proof["ends"] >= incident["sessions"] - 8
        assert sum(e["ends"] for e in others) <= 8  # a few ordinary ends of the POP's DHCP
    assert ("pop", pop_name(1)) in levels
    assert ("nas", nas_name(1, 0)) in levels
    one_pop = network_report(actor_for("noc"), purpose="network_quality", pop=pop_name(1),
                             **since_until(isp, 3))
    assert {v["device"] for v in one_pop["devices"]} == {
        *(nas_name(1, n) for n in range(NAS_PER_POP)), "192.0.2.101", "192.0.2.201"}
    assert AuditEntry.objects.order_by("-seq").first().subject == f"network:pop={pop_name(1)}"  # type: ignore[union-attr]


def test_an_incident_covering_fewer_than_k_subscribers_hides_its_counts(
        home: Path, isp: SyntheticTruth, actor_for: Callable[[str], Actor]) -> None:
    (home / "network.toml").write_text(network_toml() + "\n[outages]\nmin_sessions = 2\n"
                                       "min_share = 0.0\nwindow_seconds = 30\n")
    report = network_report(actor_for("noc"), purpose="network_quality", device=nas_name(2, 1),
                            **since_until(isp, 0))
    small = [i for i in report["incidents"] if i["subscribers"] is None]
    assert small, "ordinary churn should give a few tiny bursts under this rule"
    for incident in small:
        assert (incident["sessions"], incident["share"]) == (None, None)
    csv_text = export_plot(actor_for("noc"), "incidents", purpose="network_quality",
                           device=nas_name(2, 1), **since_until(isp, 0))
    header, *rows = csv_text.splitlines()
    assert header == ",".join(INCIDENT_COLUMNS)
    assert len(rows) == len(report["incidents"])
    assert "< 5" in rows[[i["subscribers"] for i in report["incidents"]].index(None)]


def test_the_timeline_shades_each_incident_over_the_active_sessions(
        home: Path, isp: SyntheticTruth, actor_for: Callable[[str], Actor]) -> None:
    report = network_report(actor_for("noc"), purpose="network_quality", **since_until(isp, 3))
    timeline = report["plots"][0]
    assert (timeline["id"], timeline["kind"]) == ("incidents", "timeline")
    assert timeline["series"][0]["values"] == report["overall"]["series"]["active"]
    starts = [int(datetime.fromisoformat(i["start"]).timestamp()) for i in report["incidents"]]
    assert [s["start"] for s in timeline["spans"]] == starts
    cut = isp.outages[1].at // 1_000_000
    bucket = int(np.searchsorted(timeline["x"], cut, side="right"))
    active = timeline["series"][0]["values"]
    # The cut shows in the series too: a dip right after it.
    assert active[bucket] < active[bucket - 1]
    assert timedelta(seconds=timeline["x"][1] - timeline["x"][0]) == timedelta(minutes=5)


def test_the_handover_text_lists_pops_and_pop_incidents(
        home: Path, isp: SyntheticTruth, as_role: Callable[[str], None],
        capsys: pytest.CaptureFixture[str]) -> None:
    as_role("noc")
    span = since_until(isp, 3)
    assert cli(["quality", "report", "--since", span["since"], "--until", span["until"],
                "--resolution", "1h"]) == 0
    text = capsys.readouterr().out
    assert "\nSessions per POP:\n  pop-1 " in text
    assert f"  POP {pop_name(1)} (192.0.2.101, {nas_name(1, 0)}, " in text
    assert f"  {nas_name(1, 0)}: mass-disconnect" in text
    assert "CGNAT pool 198.19.0.0/16: peak " in text


def test_a_line_without_a_circuit_id_is_behind_no_access_device(tmp_path: Path) -> None:
    """A null circuit id is no circuit, never the first circuit seen (which would count the
    line behind that access device)."""
    from cpniguard.connectivity.store import EmbeddedLogStore, StoredInterval
    from cpniguard.connectivity.store.schema import address_key

    base = to_us(datetime(2026, 11, 20, 6, tzinfo=UTC))
    rows = [StoredInterval(hi=0, lo=int(address_key(f"198.18.0.{n}")[1]), plen=128,
                           start=base + n, end=base + 3_600_000_000, original_start=base + n,
                           original_end=base + 3_600_000_000, source="dhcpd-leases",
                           device="dhcp1", mac=f"02:00:00:00:00:0{n}",
                           circuit_id=circuit)
            for n, circuit in ((1, "olt-north-1/1/1"), (2, None), (3, "olt-north-1/1/2"))]
    EmbeddedLogStore(tmp_path).add("dhcpd-leases", rows)
    table = scan(tmp_path, ScanRange(base - DAY_US // 4, base + DAY_US // 4))
    assert table.column("circuit_id").null_count == 1
    folded = fold(table)
    circuits = sorted(folded.circuit_names[c] for c in folded.circuit.tolist())
    assert circuits == ["", "olt-north-1/1/1", "olt-north-1/1/2"]
