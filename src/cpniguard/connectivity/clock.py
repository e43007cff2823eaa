"""Turning the local times that log sources write into UTC, without ever guessing.

A local time in the repeated hour of a fall-back transition names two instants; one in the
spring-forward gap names none. Both are returned flagged, never silently resolved: an
attribution built on such a time must say it is uncertain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cpniguard.connectivity.events import Flag


class UnknownZone(ValueError):
    pass


@cache
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownZone(f"unknown time zone {name!r}; use an IANA name such as "
                          "America/Chicago") from None


def local_to_utc(naive: datetime, zone_name: str) -> tuple[datetime, frozenset[Flag]]:
    """UTC for a naive local time in `zone_name`, with flags if it is ambiguous or impossible.

    For an ambiguous time the earlier instant (fold=0) is returned together with
    AMBIGUOUS_LOCAL_TIME; callers widen their window to cover both readings.
    """
    if naive.tzinfo is not None:
        return naive.astimezone(UTC), frozenset()
    tz = zone(zone_name)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    flags: frozenset[Flag] = frozenset()
    if first.utcoffset() != second.utcoffset():
        # Round-tripping tells the gap (no such wall time) from the overlap (two of them).
        back = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        flags = frozenset({Flag.AMBIGUOUS_LOCAL_TIME if back == naive
                           else Flag.NONEXISTENT_LOCAL_TIME})
    return first.astimezone(UTC), flags


def ambiguity_window(naive: datetime, zone_name: str) -> tuple[datetime, datetime]:
    """Both UTC readings of a local time (equal when it is unambiguous)."""
    tz = zone(zone_name)
    a = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    b = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return min(a, b), max(a, b)
