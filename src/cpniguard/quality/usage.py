"""Why sessions ended and how much they carried, from the store's end-of-interval columns.

The store keeps, per interval, the RADIUS Acct-Terminate-Cause of the Stop that ended it and
the octets counted while it was held (`intervals_radius` shares a session's counters out so
that summing its intervals counts each octet once; `scan` keeps the piece that holds them).
Here they become per-session facts:

- **cause**: the Acct-Terminate-Cause of the session's Stop, as logged (a number a NAS logged
  without a dictionary is named by RFC 2866). An ended session without one is labelled by
  how it ended instead: `(closed by NAS restart)`, `(lost: no Stop)`, `(no cause recorded)`
  (a DHCP release or expiry, a Stop that named none, or a partition written before causes
  were kept). Open sessions have not ended and are not counted.
- **usage**: octets in (from the subscriber) and out (to the subscriber), as the NAS counts
  them (RFC 2866 Acct-Input/Output-Octets, Gigawords applied). Each interval's octets are
  placed at the instant its counters were last read: its end, or its last record while open.
  A long session's traffic therefore lands on the day its counters were read, not spread
  over the days it lasted: the store keeps totals, not the interim readings between.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]

from cpniguard.connectivity.store.schema import OPEN_END
from cpniguard.quality.sessions import EndKind, Session

# RFC 2866 section 5.10, for NASes that log the number when their dictionary lacks the name.
RFC2866_CAUSES = {
    1: "User-Request", 2: "Lost-Carrier", 3: "Lost-Service", 4: "Idle-Timeout",
    5: "Session-Timeout", 6: "Admin-Reset", 7: "Admin-Reboot", 8: "Port-Error",
    9: "NAS-Error", 10: "NAS-Request", 11: "NAS-Reboot", 12: "Port-Unneeded",
    13: "Port-Preempted", 14: "Port-Suspended", 15: "Service-Unavailable", 16: "Callback",
    17: "User-Error", 18: "Host-Request",
}
RESTART_LABEL = "(closed by NAS restart)"
LOST_LABEL = "(lost: no Stop)"
UNKNOWN_LABEL = "(no cause recorded)"
# Causes that point at the subscriber's line or its port, not at the subscriber or the NAS.
LINE_CAUSES = frozenset({"Lost-Carrier", "Lost-Service", "Port-Error"})
NAS_CAUSES = frozenset({"NAS-Error", "NAS-Reboot", "NAS-Request", "Admin-Reboot",
                        "Service-Unavailable"})


@dataclass(frozen=True, slots=True)
class Reading:
    """One interval's octets, at the instant its counters were last read (µs UTC)."""

    at: int
    octets_in: int | None
    octets_out: int | None


@dataclass(frozen=True, slots=True)
class SessionUsage:
    cause: str | None               # the Stop's Acct-Terminate-Cause, named
    ended_as: str | None            # cause, or how it ended without one; None while open
    readings: tuple[Reading, ...]

    @property
    def octets_in(self) -> int | None:
        return _total(r.octets_in for r in self.readings)

    @property
    def octets_out(self) -> int | None:
        return _total(r.octets_out for r in self.readings)


def _total(values: Any) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def cause_name(text: str) -> str:
    raw = text.strip()
    return RFC2866_CAUSES.get(int(raw), raw) if raw.isdigit() else raw


def _column(table: pa.Table | None, name: str) -> list[Any] | None:
    if table is None or name not in table.column_names:
        return None
    return list(table.column(name).to_pylist())


def session_usage(sessions: list[Session], table: pa.Table | None) -> list[SessionUsage]:
    """The cause and readings of each session (same order), from its rows of `table`."""
    causes = _column(table, "terminate_cause")
    into, out = _column(table, "octets_in"), _column(table, "octets_out")
    ends, seen = _column(table, "original_end"), _column(table, "last_seen")
    starts = _column(table, "original_start")
    found: list[SessionUsage] = []
    for session in sessions:
        cause: tuple[int, str] | None = None
        readings: list[Reading] = []
        for row in session.rows:
            end = int(ends[row]) if ends is not None else OPEN_END
            at = end if end != OPEN_END else int(
                (seen[row] if seen is not None and seen[row] is not None else None)
                or (starts[row] if starts is not None else 0))
            if causes is not None and causes[row] and (cause is None or end >= cause[0]):
                cause = (end, cause_name(str(causes[row])))
            octets = (into[row] if into is not None else None,
                      out[row] if out is not None else None)
            if octets != (None, None):
                readings.append(Reading(at, *octets))
        named = cause[1] if cause is not None and session.kind is EndKind.STOP else None
        found.append(SessionUsage(named, _ended_as(session, named),
                                  tuple(sorted(readings, key=lambda r: r.at))))
    return found


def _ended_as(session: Session, cause: str | None) -> str | None:
    if session.kind is EndKind.OPEN:
        return None
    if session.kind is EndKind.NAS_RESTART:
        return RESTART_LABEL
    if session.kind is EndKind.NO_STOP:
        return LOST_LABEL
    return cause or UNKNOWN_LABEL


def cause_counts(sessions: list[Session], usages: list[SessionUsage], since: int,
                 until: int) -> dict[str, int]:
    """Sessions that ended in [since, until), by cause, most frequent first."""
    counted = Counter(u.ended_as for s, u in zip(sessions, usages, strict=True)
                      if u.ended_as is not None and since <= s.finish < until)
    return dict(sorted(counted.items(), key=lambda i: (-i[1], i[0])))


def readings_in(usages: list[SessionUsage], since: int, until: int
                ) -> tuple[np.ndarray[Any, np.dtype[np.int64]], ...]:
    """(instant, octets in, octets out, session number) of every reading in [since, until);
    an unknown direction counts 0 there, the reading itself still counts."""
    rows = [(r.at, r.octets_in or 0, r.octets_out or 0, n)
            for n, u in enumerate(usages) for r in u.readings if since <= r.at < until]
    array = np.array(rows, dtype=np.int64).reshape(-1, 4)
    return array[:, 0], array[:, 1], array[:, 2], array[:, 3]


def _midnight(day: str) -> int:
    return int(datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).timestamp())


def subscriber_usage_plots(view: dict[str, Any]) -> list[dict[str, Any]]:
    """Usage per day and disconnects by cause per day, of one subscriber's health view."""
    usage = view.get("usage")
    if not usage:
        return []
    days = [d["day"] for d in usage["per_day"]]
    x = [_midnight(day) for day in days]
    plots = [{"id": "usage", "title": "Usage per day (UTC)", "kind": "bars", "x": x,
              "unit": "MB",
              "series": [{"label": "in (from the subscriber), MB",
                          "values": [round(d["octets_in"] / 1e6, 3) for d in usage["per_day"]]},
                         {"label": "out (to the subscriber), MB",
                          "values": [round(d["octets_out"] / 1e6, 3)
                                     for d in usage["per_day"]]}]}]
    per_cause: dict[str, list[int]] = {name: [0] * len(days)
                                       for name in view.get("disconnect_causes", {})}
    for session in view["sessions"]:
        day = session["finish"][:10]
        if session.get("cause") in per_cause and day in days:
            per_cause[session["cause"]][days.index(day)] += 1
    if per_cause:
        plots.append({"id": "causes", "title": "Disconnects by cause per day (UTC)",
                      "kind": "bars", "x": x, "unit": "sessions",
                      "series": [{"label": name, "values": values}
                                 for name, values in per_cause.items()]})
    return plots
