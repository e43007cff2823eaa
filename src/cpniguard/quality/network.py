"""The network view: per device (NAS, DHCP server, CGNAT box), what its sessions did.

For each device over [since, until) at a chosen resolution: active sessions (sampled at the
start of each bucket, a step series), sessions begun and ended per bucket, ends by kind
(a Stop or release, closed by a NAS restart, lost without a stop) and, for DHCP servers, lease
churn (leases begun plus leases ended). Every number is also counted in distinct subscribers
(holders) so that `suppress` can hide those covering fewer than k.

Pure functions over `sessions.Session` lists: no Django, no policy here; `services` asks the
gate and applies the k threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from cpniguard.quality.sessions import EndKind, Session
from cpniguard.quality.suppress import cell, cells, distinct_per_bucket

RESOLUTIONS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400}
MAX_BUCKETS = 2000
ENDED_KINDS = (EndKind.STOP, EndKind.NAS_RESTART, EndKind.NO_STOP)


@dataclass(frozen=True, slots=True)
class Buckets:
    since: int          # µs UTC
    until: int
    seconds: int

    @property
    def step(self) -> int:
        return self.seconds * 1_000_000

    @property
    def count(self) -> int:
        return max(1, -(-(self.until - self.since) // self.step))

    def starts(self) -> npt.NDArray[np.int64]:
        return self.since + np.arange(self.count, dtype=np.int64) * self.step

    def index(self, instants: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Bucket of each instant; -1 outside [since, until)."""
        found = (instants - self.since) // self.step
        return np.where((instants >= self.since) & (instants < self.until), found, -1)


def choose_resolution(since: int, until: int, wanted: str | None = None) -> int:
    """The named resolution, or the finest one that keeps the series under MAX_BUCKETS."""
    if wanted is not None:
        if wanted not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}")
        seconds = RESOLUTIONS[wanted]
        if (until - since) // (seconds * 1_000_000) > MAX_BUCKETS:
            raise ValueError(f"{wanted} over this range is more than {MAX_BUCKETS} points")
        return seconds
    for seconds in sorted(RESOLUTIONS.values()):
        if (until - since) // (seconds * 1_000_000) <= 300:
            return seconds
    return RESOLUTIONS["1d"]


@dataclass
class DeviceView:
    device: str
    source: str
    sessions: int | None
    subscribers: int | None
    peak_active: int | None
    ends: dict[str, int | None]
    series: dict[str, list[int | None]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, "source": self.source, "sessions": self.sessions,
                "subscribers": self.subscribers, "peak_active": self.peak_active,
                "ends": self.ends, "series": self.series}


SERIES_LABELS = {
    "active": "active sessions",
    "starts": "sessions begun",
    "ends_stop": "ended by a Stop or release",
    "ends_nas_restart": "closed by a NAS restart",
    "ends_no_stop": "lost (no Stop recorded)",
    "lease_churn": "lease churn (begun + ended)",
}


def _codes(values: Sequence[str]) -> npt.NDArray[np.int64]:
    index: dict[str, int] = {}
    return np.array([index.setdefault(v, len(index)) for v in values], dtype=np.int64)


def _active(start: npt.NDArray[np.int64], finish: npt.NDArray[np.int64],
            holders: npt.NDArray[np.int64], samples: npt.NDArray[np.int64]
            ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Sessions up at each sample instant, and the distinct holders among them."""
    order_start, order_finish = np.sort(start), np.sort(finish)
    counts = (np.searchsorted(order_start, samples, side="right")
              - np.searchsorted(order_finish, samples, side="right")).astype(np.int64)
    covered = np.zeros(len(samples), dtype=np.int64)
    for number, instant in enumerate(samples):
        if counts[number]:
            up = (start <= instant) & (finish > instant)
            covered[number] = len(np.unique(holders[up]))
    return counts, covered


def _per_bucket(buckets: Buckets, instants: npt.NDArray[np.int64],
                holders: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64],
                                                         npt.NDArray[np.int64]]:
    index = buckets.index(instants)
    inside = index >= 0
    counts = np.bincount(index[inside], minlength=buckets.count).astype(np.int64)
    return counts, distinct_per_bucket(index, holders, buckets.count)


def device_view(device: str, sessions: list[Session], buckets: Buckets, k: int) -> DeviceView:
    start = np.array([s.start for s in sessions], dtype=np.int64)
    finish = np.array([s.finish for s in sessions], dtype=np.int64)
    holders = _codes([s.holder for s in sessions])
    kinds = np.array([str(s.kind) for s in sessions], dtype=object)
    series: dict[str, list[int | None]] = {}
    active, covered = _active(start, finish, holders, buckets.starts())
    series["active"] = cells(active, covered, k)
    begun, begun_by = _per_bucket(buckets, start, holders)
    series["starts"] = cells(begun, begun_by, k)
    ends: dict[str, int | None] = {}
    ended_total = np.zeros(buckets.count, dtype=np.int64)
    for kind in ENDED_KINDS:
        mask = kinds == str(kind)
        counts, by = _per_bucket(buckets, finish[mask], holders[mask])
        name = f"ends_{str(kind).replace('-', '_')}"
        series[name] = cells(counts, by, k)
        ended_total += counts
        in_range = (finish[mask] >= buckets.since) & (finish[mask] < buckets.until)
        ends[str(kind)] = cell(int(in_range.sum()), len(np.unique(holders[mask][in_range])), k)
    source = sessions[0].source if sessions else ""
    if "dhcp" in source or "kea" in source:
        index = np.concatenate([buckets.index(start), buckets.index(finish[kinds != "open"])])
        who = np.concatenate([holders, holders[kinds != "open"]])
        churn = np.bincount(index[index >= 0], minlength=buckets.count).astype(np.int64)
        series["lease_churn"] = cells(churn, distinct_per_bucket(index, who, buckets.count), k)
    touching = (start < buckets.until) & (finish > buckets.since)
    subscribers = len(np.unique(holders[touching]))
    peak = int(active.max()) if len(active) else 0
    peak_at = int(np.argmax(active)) if len(active) else 0
    return DeviceView(
        device, source, cell(int(touching.sum()), subscribers, k),
        cell(subscribers, subscribers, k),
        cell(peak, int(covered[peak_at]) if len(covered) else 0, k), ends, series)


def network_views(sessions: list[Session], buckets: Buckets, k: int,
                  device: str | None = None) -> list[DeviceView]:
    by_device: dict[str, list[Session]] = {}
    for session in sessions:
        if device is None or session.device == device:
            by_device.setdefault(session.device, []).append(session)
    return [device_view(name, group, buckets, k) for name, group in sorted(by_device.items())]
