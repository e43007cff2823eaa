"""Value parsing shared by the FreeRADIUS detail-file and radacct parsers.

Every function here either returns an exact value or raises `BadValue` (or returns None where
"not this kind of value" is a normal outcome, as for a Calling-Station-Id that is a phone
number). Nothing is repaired by guessing: a caller that gets `BadValue` quarantines the record.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime, timedelta, timezone

from cpniguard.connectivity.clock import local_to_utc
from cpniguard.connectivity.events import Flag, Network


class BadValue(ValueError):
    """A value that does not parse exactly; the message names the problem.

    `attribute` names the attribute (or column) at fault when known, so that the caller can
    point at the exact line.
    """

    def __init__(self, message: str, attribute: str = "") -> None:
        super().__init__(message)
        self.attribute = attribute


# Only separated MAC spellings are accepted. Twelve bare hex digits are deliberately NOT a MAC:
# Calling-Station-Id is also used for phone numbers, and "441234567890" is valid hex.
_MAC_SEPARATED = re.compile(r"[0-9a-f]{2}([-:])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}")
_MAC_DOTTED = re.compile(r"[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}")


def normalize_mac(text: str) -> str | None:
    """`aa:bb:cc:dd:ee:ff` for the common MAC spellings, None if `text` is not one of them."""
    low = text.strip().lower()
    if _MAC_SEPARATED.fullmatch(low):
        return low.replace("-", ":")
    if _MAC_DOTTED.fullmatch(low):
        digits = low.replace(".", "")
        return ":".join(digits[i:i + 2] for i in range(0, 12, 2))
    return None


def parse_host(text: str) -> Network:
    """A single address as a /32 or /128 network."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        raise BadValue(f"not an IP address: {text!r}") from None
    return ipaddress.ip_network(address)


def parse_prefix(text: str) -> tuple[Network, bool]:
    """A prefix as its network, and whether host bits had to be cleared to get it.

    RFC 3162 says the bits past the prefix length must be zero; when a NAS sets them anyway the
    network is still unambiguous, but the caller keeps the raw value as evidence.
    """
    raw = text.strip()
    if "/" not in raw:
        raise BadValue(f"not a prefix (no length): {text!r}")
    try:
        network = ipaddress.ip_network(raw, strict=False)
    except ValueError:
        raise BadValue(f"not an IP prefix: {text!r}") from None
    return network, str(network) != raw.lower()


def parse_int(text: str, what: str) -> int:
    raw = text.strip()
    if not raw.isascii() or not raw.isdigit():
        raise BadValue(f"{what} is not a non-negative integer: {text!r}")
    return int(raw)


def from_epoch(seconds: int) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise BadValue(f"epoch seconds out of range: {seconds}") from None


# ISO 8601 as FreeRADIUS v4 writes it, and PostgreSQL timestamptz text (DateStyle ISO), whose
# offset may be "+00", "-07", "+05:30" or, for old dates in LMT, "+00:53:28".
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"\s*(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?)?",
    re.IGNORECASE,
)


def parse_iso(text: str, zone_name: str) -> tuple[datetime, frozenset[Flag]]:
    """UTC for an ISO 8601 / timestamptz string; a time without offset is local to `zone_name`."""
    match = _ISO.fullmatch(text.strip())
    if match is None:
        raise BadValue(f"not an ISO 8601 time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zulu, sign, off_h, off_m, off_s = match.groups()[6:]
    # Beyond microseconds the digits are truncated, never rounded into the next second.
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        naive = datetime(year, month, day, hour, minute, second, micro)
    except ValueError as error:
        raise BadValue(f"impossible date/time {text!r}: {error}") from None
    if zulu:
        return naive.replace(tzinfo=UTC), frozenset()
    if sign:
        offset = timedelta(hours=int(off_h), minutes=int(off_m or 0), seconds=int(off_s or 0))
        if offset >= timedelta(hours=24):
            raise BadValue(f"offset out of range in {text!r}")
        aware = naive.replace(tzinfo=timezone(-offset if sign == "-" else offset))
        try:
            return aware.astimezone(UTC), frozenset()
        except OverflowError:
            raise BadValue(f"time out of range: {text!r}") from None
    try:
        return local_to_utc(naive, zone_name)
    except OverflowError:
        raise BadValue(f"time out of range: {text!r}") from None
