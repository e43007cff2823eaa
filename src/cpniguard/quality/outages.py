"""Outage detection: many sessions of one device ending together is an incident.

Per device, the recorded ends (a Stop, a release, an Accounting-On closing sessions) are
sorted; a window of `window_seconds` starting at an end that holds at least `min_sessions`
ends, and at least `min_share` of the sessions that device had up just before it, opens an
incident. A qualifying window that begins within one window of the incident's last end
extends it, so one long outage is one incident; an end set apart at the burst's edge by
more than a quarter window is trimmed off as ordinary churn. Lost sessions (no end recorded) are not
counted: their only time is their last interim record, minutes or hours off.

The cause is read from the ends, never guessed: `nas-restart` when most were closed by the
NAS's Accounting-On/Off, `port-block-release` for a CGNAT box, else `mass-disconnect`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]

from cpniguard.connectivity.store.schema import from_us
from cpniguard.quality.config import OutageRule
from cpniguard.quality.sessions import EndKind, Session

RECOVERY_US = 15 * 60 * 1_000_000  # who connected again this soon after the incident
RECORDED = (EndKind.STOP, EndKind.NAS_RESTART)


@dataclass
class Incident:
    device: str
    source: str
    start: int                 # µs UTC: the first end of the burst
    end: int                   # µs UTC: the last end of the burst
    sessions: int              # sessions ended in the burst
    subscribers: int           # distinct holders among them
    active_before: int         # sessions the device had up just before `start`
    cause: str
    reconnected: int = 0       # of `subscribers`, those who began a session again soon after
    evidence: list[dict[str, Any]] = field(default_factory=list)
    members: list[Session] = field(default_factory=list, repr=False)

    @property
    def share(self) -> float:
        return self.sessions / self.active_before if self.active_before else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, "source": self.source,
                "start": from_us(self.start).isoformat(), "end": from_us(self.end).isoformat(),
                "sessions": self.sessions, "subscribers": self.subscribers,
                "active_before": self.active_before, "share": round(self.share, 3),
                "cause": self.cause, "reconnected": self.reconnected,
                "evidence": self.evidence}


def _cause(members: list[Session]) -> str:
    restarts = sum(1 for s in members if s.kind is EndKind.NAS_RESTART)
    if restarts * 2 >= len(members):
        return "nas-restart"
    if any("nat" in s.source for s in members):
        return "port-block-release"
    return "mass-disconnect"


def _device_incidents(device: str, sessions: list[Session], rule: OutageRule
                      ) -> list[Incident]:
    ended = sorted((s for s in sessions if s.kind in RECORDED), key=lambda s: s.finish)
    if len(ended) < rule.min_sessions:
        return []
    times = np.array([s.finish for s in ended], dtype=np.int64)
    starts = np.sort(np.array([s.start for s in sessions], dtype=np.int64))
    finishes = np.sort(np.array([s.finish for s in sessions], dtype=np.int64))
    window = rule.window_seconds * 1_000_000
    bursts: list[list[int]] = []  # [first index, end index (exclusive), active before]
    i = 0
    while i < len(times):
        j = int(np.searchsorted(times, times[i] + window, side="left"))
        count = j - i
        if count >= rule.min_sessions:
            # Up just before the burst: begun before it, not ended before it.
            active = int(np.searchsorted(starts, times[i], side="left")
                         - np.searchsorted(finishes, times[i], side="left"))
            if count >= rule.min_share * max(active, count):
                if bursts and times[i] <= times[bursts[-1][1] - 1] + window:
                    bursts[-1][1] = max(bursts[-1][1], j)
                else:
                    bursts.append([i, j, max(active, count)])
                i = j
                continue
        i += 1
    incidents = []
    for first, last, active in bursts:
        # An end set apart from the burst by more than a quarter window, at either edge, is
        # ordinary churn that happened to fall in the window, not part of the outage.
        while last - first > rule.min_sessions and times[first + 1] - times[first] > window // 4:
            first += 1
        while last - first > rule.min_sessions and times[last - 1] - times[last - 2] > window // 4:
            last -= 1
        members = ended[first:last]
        incidents.append(Incident(
            device, members[0].source, int(times[first]), int(times[last - 1]), len(members),
            len({s.holder for s in members}), active, _cause(members), members=members))
    return incidents


def detect(sessions: list[Session], rule: OutageRule, since: int, until: int
           ) -> list[Incident]:
    """Incidents whose first end is within [since, until), by start then device."""
    by_device: dict[str, list[Session]] = {}
    for session in sessions:
        by_device.setdefault(session.device, []).append(session)
    found = [incident for device, group in sorted(by_device.items())
             for incident in _device_incidents(device, group, rule)
             if since <= incident.start < until]
    starts = sorted((s.start, s.holder) for s in sessions)
    begun = np.array([t for t, _ in starts], dtype=np.int64)
    for incident in found:
        lo = int(np.searchsorted(begun, incident.end, side="left"))
        hi = int(np.searchsorted(begun, incident.end + RECOVERY_US, side="right"))
        again = {holder for _, holder in starts[lo:hi]}
        incident.reconnected = len(again & {s.holder for s in incident.members})
    return sorted(found, key=lambda i: (i.start, i.device))


def attach_evidence(incidents: list[Incident], table: pa.Table, limit: int = 5) -> None:
    """The records that prove each incident: for a NAS restart, the Accounting-On line(s)
    (the last record of the sessions it closed); otherwise the files the Stops came from."""
    if "evidence" not in table.column_names:
        return
    evidence = table.column("evidence")
    for incident in incidents:
        last: Counter[tuple[str, int, str]] = Counter()
        files: Counter[tuple[str, str]] = Counter()
        for session in incident.members:
            for row in session.rows:
                items = evidence[row].as_py() or []
                if items:
                    tail = items[-1]
                    last[(tail["file"], tail["line"], tail["sha256"])] += 1
                    files[(tail["file"], tail["sha256"])] += 1
        if incident.cause == "nas-restart":
            # The Accounting-On closes them all; a line closing one session is its Stop.
            top = max(last.values(), default=0)
            incident.evidence = [{"file": f, "line": line, "sha256": sha, "closes": n}
                                 for (f, line, sha), n in last.most_common(limit)
                                 if n * 10 >= top]
        else:
            incident.evidence = [{"file": f, "sha256": sha, "ends": n}
                                 for (f, sha), n in files.most_common(limit)]
