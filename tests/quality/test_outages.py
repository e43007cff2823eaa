"""Outage detection on RADIUS logs with known injected outages, ingested by the real ingest:
each outage is found, on its NAS, starting within the window of the truth, with the count of
sessions it cut; a quiet day (with a small burst under the thresholds) has no incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from cpniguard.connectivity.ingest import ingest_file
from cpniguard.connectivity.store.schema import to_us
from cpniguard.quality.config import OutageRule, outage_rule
from cpniguard.quality.outages import attach_evidence, detect
from cpniguard.quality.scan import SESSION_COLUMNS, ScanRange, scan
from cpniguard.quality.sessions import EndKind, Session, sessions_of
from tests.quality.radius_scene import NASES, Outage, Scene, at

pytestmark = pytest.mark.django_db
DAY = datetime(2024, 3, 5, tzinfo=UTC)
SPAN = ScanRange(to_us(DAY), to_us(DAY + timedelta(days=1)))


def ingested(scene: Scene, tmp_path: Path) -> Path:
    root = tmp_path / "logstore"
    for path in scene.write(tmp_path / "logs"):
        ingest_file(path, "radius-detail", "UTC", root)
    return root


def day_sessions(root: Path) -> list[Session]:
    return sessions_of(scan(root, SPAN))


def test_injected_outages_are_found_with_start_count_and_cause(tmp_path: Path) -> None:
    scene = Scene(DAY, per_nas=30, outages=[Outage(NASES[0], at(DAY, 9, 30), "restart"),
                                            Outage(NASES[1], at(DAY, 15, 10), "cut")])
    root = ingested(scene, tmp_path)
    rule = OutageRule()
    table = scan(root, SPAN, columns=(*SESSION_COLUMNS, "evidence"))
    sessions = sessions_of(table)
    incidents = detect(sessions, rule, SPAN.since, SPAN.until)
    attach_evidence(incidents, table)

    assert [(i.device, i.cause) for i in incidents] == [
        (NASES[0], "nas-restart"), (NASES[1], "mass-disconnect")]
    for incident, truth in zip(incidents, scene.truth, strict=True):
        assert truth.sessions >= rule.min_sessions  # the scene really injected an outage
        assert abs(incident.start - truth.at * 1_000_000) <= rule.window_seconds * 1_000_000
        # The store keeps no Acct-Terminate-Cause: an ordinary Stop falling inside the burst
        # cannot be told from the outage's own, and is counted with it.
        churn = sum(1 for stop in scene.ordinary[truth.nas]
                    if incident.start <= stop * 1_000_000 <= incident.end)
        assert incident.sessions == truth.sessions + churn
        assert incident.subscribers == truth.sessions + churn  # one session per subscriber
        assert incident.active_before >= incident.sessions
        assert incident.reconnected >= truth.sessions  # all cut came back within 10 min
    restart = incidents[0]
    assert restart.start == restart.end == scene.truth[0].at * 1_000_000
    # The proof of a restart is the Accounting-On line that closed the sessions.
    [proof] = restart.evidence
    assert proof["file"].endswith(f"detail-{NASES[0]}-20240305")
    assert proof["closes"] == truth_sessions(scene, 0)
    text = Path(proof["file"]).read_text().splitlines()
    assert "Accounting-On" in "\n".join(text[proof["line"] - 1:proof["line"] + 2])
    assert all(s.kind is EndKind.NAS_RESTART for s in restart.members)


def truth_sessions(scene: Scene, number: int) -> int:
    return scene.truth[number].sessions


def _busiest_window(sessions: list[Session], device: str, seconds: int) -> int:
    ends = np.sort([s.finish for s in sessions if s.device == device
                    and s.kind in (EndKind.STOP, EndKind.NAS_RESTART)])
    later = np.searchsorted(ends, ends + seconds * 1_000_000, side="left")
    return int((later - np.arange(len(ends))).max())


def test_a_quiet_day_with_a_small_burst_has_no_incident(tmp_path: Path) -> None:
    scene = Scene(DAY, per_nas=30, seed=11, bursts=[(NASES[0], at(DAY, 11), 10)])
    sessions = day_sessions(ingested(scene, tmp_path))
    rule = OutageRule()
    # The burst is there, in the logs, but below the thresholds.
    assert 8 <= _busiest_window(sessions, NASES[0], rule.window_seconds) < rule.min_sessions
    assert len(sessions) > 200
    assert detect(sessions, rule, SPAN.since, SPAN.until) == []


def test_the_thresholds_are_read_from_network_toml(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPNIGUARD_HOME", str(tmp_path))
    (tmp_path / "network.toml").write_text(
        'cgnat_public_pools = []\n\n[outages]\nmin_sessions = 6\nmin_share = 0.2\n'
        'window_seconds = 90\n')
    rule = outage_rule()
    assert rule == OutageRule(6, 0.2, 90)
    scene = Scene(DAY, per_nas=30, seed=11, bursts=[(NASES[0], at(DAY, 11), 10)])
    [incident] = detect(day_sessions(ingested(scene, tmp_path)), rule, SPAN.since, SPAN.until)
    assert (incident.device, incident.cause) == (NASES[0], "mass-disconnect")
    assert abs(incident.start - at(DAY, 11) * 1_000_000) <= 90 * 1_000_000
