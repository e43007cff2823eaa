"""The attribution question as people write it: an address with an optional port, and an
instant that says which instant it is (an offset or an IANA zone name).

A bare local time is refused, and so is a zone-named time that falls in a fall-back repeat or
a spring-forward gap, because either would make the engine answer for an instant nobody asked
about. The CLI, the API and the web page all read their input here, so they refuse alike.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime

from cpniguard.connectivity.clock import UnknownZone, local_to_utc, zone

_TWELVE_HOUR = re.compile(r"\d\s*[ap]\.?m\.?(\s|$)", re.IGNORECASE)


class Usage(ValueError):
    pass


def parse_target(text: str) -> tuple[str, int | None]:
    """`192.0.2.1`, `192.0.2.1:443`, `2001:db8::1`, `[2001:db8::1]:443` → (address, port)."""
    host, port_text = text, ""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise Usage(f"bad address {text!r}; IPv6 with a port is [2001:db8::1]:443")
        port_text = rest[1:]
        if rest and not port_text:
            raise Usage(f"empty port in {text!r}")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise Usage(f"not an IP address: {host!r}") from None
    if not port_text:
        return str(address), None
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise Usage(f"bad port {port_text!r}")
    return str(address), int(port_text)


def parse_instant(text: str) -> datetime:
    """An aware instant from ISO 8601 with an offset, or `DATE TIME Zone/Name`."""
    text = text.strip()
    if _TWELVE_HOUR.search(text):
        # A 12-hour time is where "2:05" became 14:05 or 02:05 and the wrong person was named.
        raise Usage(f"{text!r} is a 12-hour time; write 24-hour ISO 8601, e.g. "
                    "2017-03-29T14:05:03-07:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is not None:
        if moment.tzinfo is None:
            raise Usage(f"{text!r} has no offset or zone; write e.g. 2017-03-29T14:05:03-07:00 "
                        "or '2017-03-29 14:05:03 America/Los_Angeles'")
        return moment
    local, _, zone_name = text.rpartition(" ")
    try:
        naive = datetime.fromisoformat(local.strip())
        zone(zone_name)
    except UnknownZone as error:
        raise Usage(str(error)) from None
    except ValueError:
        raise Usage(f"cannot read the instant {text!r}") from None
    if naive.tzinfo is not None:
        raise Usage(f"{text!r} gives both an offset and a zone; give one")
    moment, flags = local_to_utc(naive, zone_name)
    if flags:
        raise Usage(f"{local.strip()} in {zone_name} is {', '.join(sorted(flags))}: "
                    "it names no single instant; give the UTC offset instead")
    return moment
