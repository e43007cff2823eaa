"""One subscriber's connection health, for troubleshooting a ticket.

From the subscriber's sessions (found through their dated identity links, see `services`):
sessions per day, session lengths, reconnect storms, the addresses they held, the flags the
logs carry, and a verdict with the rules that decided it and the sessions behind each rule.

Disconnect causes (RADIUS Acct-Terminate-Cause) and usage in and out come from the store's
end-of-interval columns (see `usage`); many sessions ended by line faults (Lost-Carrier,
Lost-Service, Port-Error) make the verdict worse, with those sessions as evidence.
Speed-test results are kept in the records database (`speedtests`); their finding reaches
the verdict through `more`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from statistics import median
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from cpniguard.connectivity.store.schema import from_us
from cpniguard.quality.sessions import EndKind, Session
from cpniguard.quality.usage import (
    LINE_CAUSES,
    NAS_CAUSES,
    SessionUsage,
    cause_counts,
    readings_in,
    session_usage,
)

STORM_SESSIONS = 5                    # this many sessions begun...
STORM_WINDOW_US = 30 * 60 * 1_000_000  # ...within this window is a reconnect storm
SHORT_SECONDS = 300
BUSY_DAY_SESSIONS = 12
NOT_RECORDED: dict[str, str] = {}
SEVERITY = {"good": 0, "degraded": 1, "poor": 2}
LINE_FAULTS = 3          # sessions ended by a line fault: degraded from this many...
LINE_FAULTS_POOR = 5     # ...poor from this many, when they are half the ended sessions
NAS_SIDE_ENDS = 2


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    verdict: str          # the verdict this rule alone would give: degraded or poor
    text: str
    sessions: tuple[int, ...]  # indexes into the view's session list
    speed_tests: tuple[int, ...] = ()  # indexes into the view's speed tests

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "verdict": self.verdict, "text": self.text,
                "sessions": list(self.sessions), "speed_tests": list(self.speed_tests)}


def storms(sessions: list[Session]) -> list[tuple[int, int, list[int]]]:
    """(first start, last start, session indexes) of each burst of reconnects."""
    begun = sorted(range(len(sessions)), key=lambda n: sessions[n].start)
    found: list[tuple[int, int, list[int]]] = []
    i = 0
    while i < len(begun):
        j = i
        while j < len(begun) and sessions[begun[j]].start - sessions[begun[i]].start \
                < STORM_WINDOW_US:
            j += 1
        if j - i >= STORM_SESSIONS:
            # Grow it while the next start is still within a window of the previous one.
            while j < len(begun) and sessions[begun[j]].start - sessions[begun[j - 1]].start \
                    < STORM_WINDOW_US // STORM_SESSIONS:
                j += 1
            members = begun[i:j]
            found.append((sessions[members[0]].start, sessions[members[-1]].start, members))
            i = j
        else:
            i += 1
    return found


def _day(instant: int) -> str:
    return from_us(instant).date().isoformat()


def _per_day(sessions: list[Session], since: int, until: int) -> list[dict[str, Any]]:
    days: dict[str, dict[str, Any]] = {}
    day = from_us(since).date()
    while day <= from_us(until - 1).date():
        days[day.isoformat()] = {"day": day.isoformat(), "sessions": 0, "online_seconds": 0}
        day += timedelta(days=1)
    for session in sessions:
        if since <= session.start < until:
            days[_day(session.start)]["sessions"] += 1
        # Online time is cut at each UTC midnight so each day gets its own share.
        moment = max(session.start, since)
        stop = min(session.finish, until)
        while moment < stop:
            midnight = ((moment // 86_400_000_000) + 1) * 86_400_000_000
            piece = min(stop, midnight)
            days[_day(moment)]["online_seconds"] += (piece - moment) // 1_000_000
            moment = piece
    return list(days.values())


def _findings(sessions: list[Session], per_day: list[dict[str, Any]]) -> list[Finding]:
    found: list[Finding] = []
    for first, last, members in storms(sessions):
        found.append(Finding(
            "reconnect-storm", "poor",
            f"{len(members)} sessions began between {from_us(first):%Y-%m-%d %H:%M} and "
            f"{from_us(last):%H:%M} UTC (a storm is {STORM_SESSIONS} or more within "
            f"{STORM_WINDOW_US // 60_000_000} minutes)", tuple(sorted(members))))
    lost = tuple(n for n, s in enumerate(sessions) if s.kind is EndKind.NO_STOP)
    if lost:
        found.append(Finding("lost-sessions", "poor" if len(lost) >= 3 else "degraded",
                             f"{len(lost)} session(s) stopped being reported with no Stop",
                             lost))
    restarts = tuple(n for n, s in enumerate(sessions) if s.kind is EndKind.NAS_RESTART)
    if restarts:
        found.append(Finding("nas-restarts", "degraded",
                             f"{len(restarts)} session(s) cut by a NAS restart", restarts))
    ended = [n for n, s in enumerate(sessions) if s.ended]
    short = tuple(n for n in ended if sessions[n].seconds < SHORT_SECONDS)
    if len(ended) >= 4 and len(short) * 2 >= len(ended):
        found.append(Finding("short-sessions", "degraded",
                             f"{len(short)} of {len(ended)} ended sessions lasted under "
                             f"{SHORT_SECONDS // 60} minutes", short))
    for day in per_day:
        if day["sessions"] > BUSY_DAY_SESSIONS:
            that_day = tuple(n for n, s in enumerate(sessions) if _day(s.start) == day["day"])
            found.append(Finding("busy-day", "degraded",
                                 f"{day['sessions']} sessions on {day['day']} (more than "
                                 f"{BUSY_DAY_SESSIONS})", that_day))
    return found


def _cause_findings(sessions: list[Session], usages: list[SessionUsage]) -> list[Finding]:
    found: list[Finding] = []
    ended = sum(1 for s in sessions if s.ended)
    line = tuple(n for n, u in enumerate(usages) if u.cause in LINE_CAUSES)
    if len(line) >= LINE_FAULTS:
        named = Counter(str(usages[n].cause) for n in line)
        poor = len(line) >= LINE_FAULTS_POOR and len(line) * 2 >= ended
        found.append(Finding(
            "line-faults", "poor" if poor else "degraded",
            f"{len(line)} of {ended} ended sessions were ended by a line fault ("
            + ", ".join(f"{name} {count}" for name, count in named.most_common())
            + "): check the line, the CPE and the access port", line))
    nas = tuple(n for n, u in enumerate(usages) if u.cause in NAS_CAUSES)
    if len(nas) >= NAS_SIDE_ENDS:
        found.append(Finding("nas-side-ends", "degraded",
                             f"{len(nas)} session(s) ended by the NAS or its operator ("
                             + ", ".join(sorted({str(usages[n].cause) for n in nas})) + ")",
                             nas))
    return found


def _usage_section(sessions: list[Session], usages: list[SessionUsage],
                   per_day: list[dict[str, Any]], since: int, until: int) -> dict[str, Any]:
    at, into, out, _ = readings_in(usages, since, until)
    days = {d["day"]: {"day": d["day"], "octets_in": 0, "octets_out": 0} for d in per_day}
    for instant, octets_in, octets_out in zip(at.tolist(), into.tolist(), out.tolist(),
                                              strict=True):
        day = days[_day(instant)]
        day["octets_in"] += octets_in
        day["octets_out"] += octets_out
    counted = sum(1 for u in usages if u.readings)
    return {"per_day": list(days.values()), "octets_in": int(into.sum()),
            "octets_out": int(out.sum()), "sessions_with_counters": counted,
            "sessions_without_counters": len(sessions) - counted}


def _usage_fields(usage: SessionUsage) -> dict[str, Any]:
    return {"cause": usage.ended_as, "octets_in": usage.octets_in,
            "octets_out": usage.octets_out}


def _session_dict(session: Session, table: pa.Table | None) -> dict[str, Any]:
    evidence: list[dict[str, Any]] = []
    if table is not None and "evidence" in table.column_names:
        for row in session.rows:
            evidence.extend(table.column("evidence")[row].as_py() or [])
    return {"start": from_us(session.start).isoformat(),
            "finish": from_us(session.finish).isoformat(),
            "seconds": int(session.seconds), "end": str(session.kind),
            "device": session.device, "source": session.source,
            "addresses": session.addresses, "flags": sorted(session.flags),
            "evidence": evidence[:1] + evidence[-1:] if len(evidence) > 1 else evidence}


def health(sessions: list[Session], since: int, until: int,
           table: pa.Table | None = None, *, more: Sequence[Finding] = (),
           measured: bool = False) -> dict[str, Any]:
    """`more`: findings from other evidence (speed tests); `measured`: that evidence exists,
    so a verdict can be given even without a session."""
    per_day = _per_day(sessions, since, until)
    usages = session_usage(sessions, table)
    findings = _findings(sessions, per_day) + _cause_findings(sessions, usages) + list(more)
    if not sessions and not measured:
        verdict = "unknown"
    else:
        verdict = max((f.verdict for f in findings), key=SEVERITY.__getitem__, default="good")
    lengths = [s.seconds for s in sessions if s.ended]
    addresses: dict[str, dict[str, Any]] = {}
    for session in sessions:
        for address in session.addresses:
            entry = addresses.setdefault(address, {"address": address, "first": session.start,
                                                   "last": session.finish, "sessions": 0})
            entry["first"] = min(entry["first"], session.start)
            entry["last"] = max(entry["last"], session.finish)
            entry["sessions"] += 1
    return {
        "since": from_us(since).isoformat(), "until": from_us(until).isoformat(),
        "verdict": verdict,
        "findings": [f.to_dict() for f in findings],
        "sessions_per_day": per_day,
        "lengths": {"ended": len(lengths),
                    "median_seconds": int(median(lengths)) if lengths else None,
                    "shortest_seconds": int(min(lengths)) if lengths else None,
                    "longest_seconds": int(max(lengths)) if lengths else None},
        "ends": dict(Counter(str(s.kind) for s in sessions)),
        "flags": dict(Counter(f for s in sessions for f in s.flags)),
        "addresses": [{**a, "first": from_us(a["first"]).isoformat(),
                       "last": from_us(a["last"]).isoformat()}
                      for a in sorted(addresses.values(), key=lambda a: a["first"])],
        "sessions": [{**_session_dict(s, table), **_usage_fields(u)}
                     for s, u in zip(sessions, usages, strict=True)],
        "disconnect_causes": cause_counts(sessions, usages, since, until),
        "usage": _usage_section(sessions, usages, per_day, since, until),
        "not_recorded": NOT_RECORDED,
    }
