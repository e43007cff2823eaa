"""Outage detection: many sessions of one device, or one POP, ending together is an incident.

Per group (a device, or a POP's devices together), the recorded ends (a Stop, a release, an
Accounting-On closing sessions) are sorted; a window of `window_seconds` starting at an end
that holds at least `min_sessions` ends, and at least `min_share` of the sessions the group
had up just before it, opens an incident. A qualifying window that begins within one window of
the incident's last end extends it, so one long outage is one incident; an end set apart at
the burst's edge by more than a quarter window is trimmed off as ordinary churn. Lost
sessions (no end recorded) are not counted: their only time is their last interim record,
minutes or hours off.

Every window is tested at once (two `searchsorted` over the ends); only the qualifying ones,
none on a quiet day, are walked in Python. A POP is tested as one group only when it has more
than one device: a POP of one device is that device. A POP incident catches an upstream fault
that each device alone shows below the threshold, and names the devices it touched.

The cause is read from the ends, never guessed: `nas-restart` when most were closed by the
NAS's Accounting-On/Off, `port-block-release` when most were a CGNAT box's, else
`mass-disconnect`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]

from cpniguard.connectivity.store.schema import from_us
from cpniguard.quality.config import OutageRule
from cpniguard.quality.folding import KINDS, NAS_RESTART, STOP, Folded
from cpniguard.quality.groups import Grouping
from cpniguard.quality.sessions import Session
from cpniguard.quality.suppress import distinct

RECOVERY_US = 15 * 60 * 1_000_000  # who connected again this soon after the incident
Ints = npt.NDArray[np.int64]


@dataclass
class Incident:
    device: str                # the device; for a POP incident, the POP
    source: str
    start: int                 # µs UTC: the first end of the burst
    end: int                   # µs UTC: the last end of the burst
    sessions: int              # sessions ended in the burst
    subscribers: int           # distinct holders among them
    active_before: int         # sessions the group had up just before `start`
    cause: str
    reconnected: int = 0       # of `subscribers`, those who began a session again soon after
    evidence: list[dict[str, Any]] = field(default_factory=list)
    members: list[Session] = field(default_factory=list, repr=False)
    level: str = "nas"         # "nas" (one device) or "pop"
    devices: list[str] = field(default_factory=list)
    member_ids: Ints = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)

    @property
    def share(self) -> float:
        return self.sessions / self.active_before if self.active_before else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "group": self.device, "device": self.device,
                "devices": self.devices, "source": self.source,
                "start": from_us(self.start).isoformat(), "end": from_us(self.end).isoformat(),
                "sessions": self.sessions, "subscribers": self.subscribers,
                "active_before": self.active_before, "share": round(self.share, 3),
                "cause": self.cause, "reconnected": self.reconnected,
                "evidence": self.evidence}


def _bursts(times: Ints, starts: Ints, finishes: Ints, rule: OutageRule
            ) -> list[tuple[int, int, int]]:
    """(first, end (exclusive), active before) of each burst among sorted end `times`;
    `starts` and `finishes` (sorted) are every session of the group, ended or not."""
    window = rule.window_seconds * 1_000_000
    reach = np.searchsorted(times, times + window, side="left")
    count = reach - np.arange(len(times))
    candidate = np.flatnonzero(count >= rule.min_sessions)
    # Up just before the burst: begun before it, not ended before it.
    active = (np.searchsorted(starts, times[candidate], side="left")
              - np.searchsorted(finishes, times[candidate], side="left"))
    wide = np.maximum(active, count[candidate])
    qualifying = candidate[count[candidate] >= rule.min_share * wide]
    widest = dict(zip(candidate.tolist(), wide.tolist(), strict=True))
    bursts: list[list[int]] = []
    resume = 0
    for i in qualifying.tolist():
        if i < resume:  # inside a window already taken, as the sequential scan skips it
            continue
        j = int(reach[i])
        if bursts and times[i] <= times[bursts[-1][1] - 1] + window:
            bursts[-1][1] = max(bursts[-1][1], j)
        else:
            bursts.append([i, j, widest[i]])
        resume = j
    trimmed = []
    for first, last, up in bursts:
        # An end set apart from the burst by more than a quarter window, at either edge, is
        # ordinary churn that happened to fall in the window, not part of the outage.
        while last - first > rule.min_sessions and times[first + 1] - times[first] > window // 4:
            first += 1
        while last - first > rule.min_sessions and times[last - 1] - times[last - 2] > window // 4:
            last -= 1
        trimmed.append((first, last, up))
    return trimmed


def _cause(folded: Folded, members: Ints) -> str:
    restarts = int((folded.kind[members] == NAS_RESTART).sum())
    if restarts * 2 >= len(members):
        return "nas-restart"
    nat = [n for n, name in enumerate(folded.source_names) if "nat" in name]
    # Most ends on a CGNAT box (a POP's burst may catch a few of its ordinary releases).
    if int(np.isin(folded.source[members], nat).sum()) * 2 > len(members):
        return "port-block-release"
    return "mass-disconnect"


def detect_groups(folded: Folded, group: Grouping, rule: OutageRule, since: int, until: int
                  ) -> list[Incident]:
    """Incidents of every group of one level whose first end is in [since, until)."""
    recorded = (folded.kind == STOP) | (folded.kind == NAS_RESTART)
    found = []
    order = np.argsort(group.code, kind="stable")
    codes = group.code[order]
    begun_order = np.argsort(folded.start, kind="stable")
    begun = folded.start[begun_order]
    for number, name in enumerate(group.names):
        lo, hi = np.searchsorted(codes, [number, number + 1])
        mine = order[lo:hi]
        ended = mine[recorded[mine]]
        if len(ended) < rule.min_sessions:
            continue
        devices = sorted({folded.device_names[c] for c in distinct(folded.device[mine])})
        if group.level == "pop" and len(devices) < 2:
            continue
        ended = ended[np.argsort(folded.finish[ended], kind="stable")]
        times = folded.finish[ended]
        for first, last, active in _bursts(times, np.sort(folded.start[mine]),
                                           np.sort(folded.finish[mine]), rule):
            members = ended[first:last]
            if not since <= int(times[first]) < until:
                continue
            holders = distinct(folded.holder[members])
            end = int(times[last - 1])
            a = int(np.searchsorted(begun, end, side="left"))
            b = int(np.searchsorted(begun, end + RECOVERY_US, side="right"))
            again = np.intersect1d(folded.holder[begun_order[a:b]], holders)
            touched = sorted({folded.device_names[c]
                              for c in distinct(folded.device[members])})
            found.append(Incident(
                name, folded.source_names[folded.source[members[0]]], int(times[first]), end,
                len(members), len(holders), active, _cause(folded, members), len(again),
                level=group.level, devices=touched, member_ids=members))
    return sorted(found, key=lambda i: (i.start, i.level != "nas", i.device))


def _folded_of(sessions: list[Session]) -> Folded:
    """Sessions as columns (no table rows): the list form of the API runs the same code."""
    def codes(values: list[str]) -> tuple[Ints, list[str]]:
        names = sorted(set(values))
        number = {name: n for n, name in enumerate(names)}
        return np.array([number[v] for v in values], dtype=np.int64), names

    source, source_names = codes([s.source for s in sessions])
    device, device_names = codes([s.device for s in sessions])
    holder, holder_names = codes([s.holder for s in sessions])
    empty = np.zeros(len(sessions), dtype=np.int64)
    return Folded(source, device, holder, empty, np.array([s.start for s in sessions], np.int64),
                  np.array([s.finish for s in sessions], np.int64),
                  np.array([KINDS.index(s.kind) for s in sessions], np.int8),
                  np.zeros(0, np.int64), np.zeros(len(sessions) + 1, np.int64),
                  np.zeros(0, np.int64), source_names, device_names, holder_names, [""])


def detect(sessions: list[Session], rule: OutageRule, since: int, until: int
           ) -> list[Incident]:
    """Device incidents among `Session` objects, by start then device."""
    folded = _folded_of(sessions)
    group = Grouping("nas", folded.device, folded.device_names)
    incidents = detect_groups(folded, group, rule, since, until)
    for incident in incidents:
        incident.members = [sessions[i] for i in incident.member_ids.tolist()]
    return incidents


def evidence_of(cause: str, tails: list[dict[str, Any] | None], limit: int
              ) -> list[dict[str, Any]]:
    last: Counter[tuple[str, int, str]] = Counter()
    files: Counter[tuple[str, str]] = Counter()
    for tail in tails:
        if tail:
            last[(tail["file"], tail["line"], tail["sha256"])] += 1
            files[(tail["file"], tail["sha256"])] += 1
    if cause == "nas-restart":
        # The Accounting-On closes them all; a line closing one session is its Stop.
        top = max(last.values(), default=0)
        return [{"file": f, "line": line, "sha256": sha, "closes": n}
                for (f, line, sha), n in last.most_common(limit) if n * 10 >= top]
    return [{"file": f, "sha256": sha, "ends": n} for (f, sha), n in files.most_common(limit)]


def attach_evidence(incidents: list[Incident], table: pa.Table, limit: int = 5,
                    folded: Folded | None = None) -> None:
    """The records that prove each incident: for a NAS restart, the Accounting-On line(s)
    (the last record of the sessions it closed); otherwise the files the Stops came from.
    Rows come from the members (`Session.rows`) or, with `folded`, from its row lists."""
    if "evidence" not in table.column_names:
        return
    for incident in incidents:
        if folded is not None:
            rows = [r for i in incident.member_ids.tolist() for r in folded.rows(i).tolist()]
        else:
            rows = [r for session in incident.members for r in session.rows]
        items = table.column("evidence").take(pa.array(rows, pa.int64())).to_pylist()
        incident.evidence = evidence_of(incident.cause,
                                      [found[-1] if found else None for found in items], limit)
