"""Values as FreeRADIUS writes them into detail files: ctime headers, quoted strings, enums and
the several spellings of Event-Timestamp.

Month and weekday names are matched against fixed English tables rather than with strptime,
whose %a/%b follow the process locale: the result must not depend on where the parser runs.
"""

from __future__ import annotations

import re
from datetime import datetime

from cpniguard.connectivity.clock import local_to_utc, zone
from cpniguard.connectivity.events import EventKind, Flag
from cpniguard.connectivity.parsers.freeradius_common import BadValue, from_epoch, parse_iso

MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_MONTH = "|".join(MONTHS)
_CTIME = re.compile(rf"({'|'.join(WEEKDAYS)}) ({_MONTH}) +(\d{{1,2}}) "
                    r"(\d{2}):(\d{2}):(\d{2}) (\d{4})[ \t]*")
# v3 without `dates_as_integer`: strftime("%b %e %Y %H:%M:%S %Z") in the server's locale.
_LOCALE_EN = re.compile(rf"({_MONTH}) +(\d{{1,2}}) (\d{{4}}) (\d{{2}}):(\d{{2}}):(\d{{2}})"
                        r"(?: +([A-Za-z][A-Za-z0-9+\-]{0,9}|[+\-]\d{2,4}))?")

# RFC 2866 numbers too: a server without the dictionary writes the bare value.
_KINDS = {
    "start": EventKind.SESSION_START, "1": EventKind.SESSION_START,
    "stop": EventKind.SESSION_STOP, "2": EventKind.SESSION_STOP,
    "interim-update": EventKind.SESSION_INTERIM, "alive": EventKind.SESSION_INTERIM,
    "3": EventKind.SESSION_INTERIM,
    "accounting-on": EventKind.NAS_ON, "7": EventKind.NAS_ON,
    "accounting-off": EventKind.NAS_OFF, "8": EventKind.NAS_OFF,
}


def parse_ctime(line: str) -> datetime | None:
    """The naive local time of a record header; None if the line is not header-shaped.

    Raises BadValue for a header-shaped line naming an impossible date or the wrong weekday,
    which is a corrupt header rather than some other kind of line.
    """
    match = _CTIME.fullmatch(line)
    if match is None:
        return None
    weekday, month, day, hour, minute, second, year = match.groups()
    try:
        when = datetime(int(year), MONTHS[month], int(day), int(hour), int(minute), int(second))
    except ValueError as error:
        raise BadValue(f"impossible header date {line!r}: {error}") from None
    if WEEKDAYS[when.weekday()] != weekday:
        raise BadValue(f"header weekday {weekday} does not match its date {line!r}")
    return when


def strip_enum(value: str) -> str:
    """`::Start` (v4) → `Start` (v3). Only before a letter: `::1` is an IPv6 address."""
    if value.startswith("::") and value[2:3].isalpha():
        return value[2:]
    return value


def kind_for_status(value: str) -> EventKind | None:
    return _KINDS.get(strip_enum(value.strip()).lower())


_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "r": "\r", "t": "\t"}
_OCTAL = re.compile(r"[0-3][0-7]{2}")
_HEX = re.compile(r"x[0-9a-fA-F]{2}")


def unquote(raw: str) -> str | None:
    """The value of a `Name = value` line; None if a quoted value is not exactly one string.

    Escapes are the ones FreeRADIUS writes: \\\\ \\" \\n \\r \\t and a byte as \\ooo (v3) or
    \\xhh. Escaped bytes are decoded as UTF-8 in runs, so a multi-byte name survives; bytes
    that are not UTF-8 are kept as surrogate escapes rather than replaced.
    """
    value = raw.rstrip()
    if not value.startswith('"'):
        return value
    if len(value) < 2 or not value.endswith('"'):
        return None
    inner = value[1:-1]
    pieces: list[str] = []
    pending = bytearray()
    i = 0
    while i < len(inner):
        char = inner[i]
        if char == '"':
            return None  # an unescaped quote: not one string
        if char != "\\":
            if pending:
                pieces.append(pending.decode("utf-8", "surrogateescape"))
                pending.clear()
            pieces.append(char)
            i += 1
            continue
        following = inner[i + 1:i + 2]
        if following in _ESCAPES:
            pieces.append(pending.decode("utf-8", "surrogateescape"))
            pending.clear()
            pieces.append(_ESCAPES[following])
            i += 2
        elif _OCTAL.fullmatch(inner[i + 1:i + 4]):
            pending.append(int(inner[i + 1:i + 4], 8))
            i += 4
        elif _HEX.fullmatch(inner[i + 1:i + 4]):
            pending.append(int(inner[i + 2:i + 4], 16))
            i += 4
        else:
            return None  # an escape FreeRADIUS does not write: the line is corrupt
    pieces.append(pending.decode("utf-8", "surrogateescape"))
    return "".join(pieces)


def parse_event_timestamp(text: str, zone_name: str) -> tuple[datetime, frozenset[Flag], str]:
    """UTC, flags and a note if the written zone abbreviation is not one `zone_name` uses.

    Accepted: epoch seconds (`dates_as_integer`), ISO 8601 (v4), and the English v3 form
    `Jun  9 2015 00:03:47 CEST`. Abbreviations are ambiguous world-wide (CST is also China),
    so the time is read in the configured zone and the abbreviation is only checked.
    """
    raw = text.strip()
    if raw.isascii() and raw.isdigit():
        return from_epoch(int(raw)), frozenset(), ""
    if raw[:4].isdigit():
        utc, flags = parse_iso(raw, zone_name)
        return utc, flags, ""
    match = _LOCALE_EN.fullmatch(raw)
    if match is None:
        raise BadValue(f"Event-Timestamp in no known form: {text!r}")
    month, day, year, hour, minute, second, abbreviation = match.groups()
    try:
        naive = datetime(int(year), MONTHS[month], int(day), int(hour), int(minute), int(second))
        utc, flags = local_to_utc(naive, zone_name)
    except (ValueError, OverflowError) as error:
        raise BadValue(f"impossible Event-Timestamp {text!r}: {error}") from None
    note = ""
    if abbreviation:
        tz = zone(zone_name)
        used = {naive.replace(tzinfo=tz, fold=fold).tzname() for fold in (0, 1)}
        if abbreviation not in used:
            note = (f"{abbreviation} is not what {zone_name} calls that time "
                    f"({'/'.join(sorted(n for n in used if n))}); read in {zone_name}")
    return utc, flags, note
