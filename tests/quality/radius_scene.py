"""A small FreeRADIUS detail-file writer with injected outages, and the truth about them.

Two NASes with `per_nas` subscribers each, every subscriber on a fixed address, connecting
again and again through one UTC day (sessions of 20 min to 3 h, Stops with an
Acct-Terminate-Cause, hourly interims). Injected on top, each with its truth row:

- a NAS restart at T: every session up on that NAS dies without a Stop; the NAS sends an
  Accounting-On at T (the only record of when they ended), and they connect again minutes
  later;
- a mass disconnect at T (a cut fibre): every session up on that NAS gets a Stop with
  Lost-Carrier within `spread` seconds after T;
- a small burst: `size` sessions (below the outage thresholds) stop within a minute;
- a reconnect storm of one subscriber: `count` sessions of two minutes each, back to back.

The text is written with the demo generator's own record writer, so it is the format the real
parser reads; tests ingest it with the real `ingest_file`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cpniguard.connectivity.generator_formats import radius_record

UTC_ZONE = ZoneInfo("UTC")
NASES = ("192.0.2.1", "192.0.2.2")
Put = Callable[[str, int, list[tuple[str, str]]], None]


@dataclass(frozen=True)
class Outage:
    nas: str
    at: int                  # epoch seconds UTC
    kind: str                # "restart" or "cut"
    spread: int = 60         # a cut's Stops fall within this many seconds after `at`


@dataclass(frozen=True)
class Truth:
    nas: str
    at: int
    kind: str
    sessions: int            # sessions up on the NAS when it happened


@dataclass
class Scene:
    day: datetime                                  # 00:00 UTC of the simulated day
    per_nas: int = 30
    seed: int = 7
    outages: list[Outage] = field(default_factory=list)
    bursts: list[tuple[str, int, int]] = field(default_factory=list)  # (nas, at, size)
    storms: list[tuple[int, int, int]] = field(default_factory=list)  # (subscriber, at, n)
    truth: list[Truth] = field(default_factory=list)
    # Ordinary Stops (User-Request) per NAS: churn an outage window may also catch.
    ordinary: dict[str, list[int]] = field(default_factory=dict)

    def user(self, index: int) -> str:
        return f"user{index:04d}@example.net"

    def nas_of(self, index: int) -> str:
        return NASES[index % len(NASES)]

    def address_of(self, index: int) -> str:
        return f"198.51.100.{index + 1}" if index < 200 else f"203.0.113.{index - 199}"

    def write(self, directory: Path) -> list[Path]:
        """One detail file per NAS; returns their paths."""
        rng = random.Random(self.seed)
        base = int(self.day.timestamp())
        end = base + 86400
        records: dict[str, list[tuple[int, int, str]]] = {nas: [] for nas in NASES}
        sequence = [0]

        def put(nas: str, at: int, attrs: list[tuple[str, str]]) -> None:
            sequence[0] += 1
            records[nas].append((at, sequence[0], radius_record(at, UTC_ZONE, attrs)))

        restarts = {(o.nas, o.at) for o in self.outages if o.kind == "restart"}
        for nas, at in sorted(restarts):
            put(nas, at, [("Acct-Status-Type", "Accounting-On"), ("NAS-IP-Address", nas),
                          ("Acct-Session-Id", '"00000000"'),
                          ("Acct-Terminate-Cause", "NAS-Reboot"),
                          ("Event-Timestamp", str(at))])
        up_at: dict[tuple[str, int], int] = {}
        for index in range(self.per_nas * len(NASES)):
            nas = self.nas_of(index)
            t = base + rng.randrange(60, 1800)
            storm = [s for s in self.storms if s[0] == index]
            while t < end - 600:
                length = rng.randrange(1200, 3 * 3600)
                stop, cause, silent = t + length, "User-Request", False
                for outage in self.outages:
                    if outage.nas == nas and t < outage.at < stop:
                        up_at[(nas, outage.at)] = up_at.get((nas, outage.at), 0) + 1
                        if outage.kind == "restart":
                            stop, silent = outage.at, True
                        else:
                            stop, cause = outage.at + rng.randrange(outage.spread), \
                                "Lost-Carrier"
                        break
                for burst_nas, at, size in self.bursts:
                    if burst_nas == nas and t < at < stop and index // 2 < size:
                        stop, cause = at + rng.randrange(60), "Port-Error"
                if stop >= end:
                    break
                if cause == "User-Request" and not silent:
                    self.ordinary.setdefault(nas, []).append(stop)
                self._session(put, index, t, stop, cause, silent)
                t = stop + rng.randrange(60, 600)
                for _who, at, count in storm:
                    if t <= at < t + 4 * 3600:
                        for n in range(count):
                            first = at + n * 150
                            self._session(put, index, first, first + 120, "Lost-Carrier",
                                          False)
                        t = at + count * 150 + 60
                        storm = [s for s in storm if s[1] != at]
        self.truth = [Truth(o.nas, o.at, o.kind, up_at.get((o.nas, o.at), 0))
                      for o in self.outages]
        paths = []
        directory.mkdir(parents=True, exist_ok=True)
        for nas, entries in records.items():
            path = directory / f"detail-{nas}-{self.day:%Y%m%d}"
            path.write_text("".join(text for _, _, text in sorted(entries)), encoding="utf-8")
            paths.append(path)
        return paths

    def _session(self, put: Put, index: int, start: int, stop: int, cause: str,
                 silent: bool) -> None:
        nas, user = self.nas_of(index), self.user(index)
        session = f"{index:04X}{start:X}"
        common = [("Acct-Session-Id", f'"{session}"'), ("User-Name", f'"{user}"'),
                  ("NAS-IP-Address", nas), ("Framed-IP-Address", self.address_of(index)),
                  ("Calling-Station-Id", f'"02:00:00:00:{index // 256:02x}:{index % 256:02x}"')]
        put(nas, start, [*common[:1], ("Acct-Status-Type", "Start"), *common[1:],
                         ("Event-Timestamp", str(start))])
        for interim in range(start + 3600, stop, 3600):
            put(nas, interim, [*common[:1], ("Acct-Status-Type", "Interim-Update"),
                               *common[1:], ("Acct-Session-Time", str(interim - start)),
                               ("Event-Timestamp", str(interim))])
        if not silent:
            put(nas, stop, [*common[:1], ("Acct-Status-Type", "Stop"), *common[1:],
                            ("Acct-Session-Time", str(stop - start)),
                            ("Acct-Terminate-Cause", cause), ("Event-Timestamp", str(stop))])


def at(day: datetime, hour: int, minute: int = 0) -> int:
    return int(day.replace(hour=hour, minute=minute, tzinfo=UTC).timestamp())
