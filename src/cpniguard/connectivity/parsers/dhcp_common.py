"""Value normalisation shared by the DHCP parsers (dhcpd, Kea memfile, Kea legal log).

Identifiers are normalised once, here, so that the same device compares equal whichever log it
came from: MACs in lower-case colon form, every other binary identifier (client-id, DUID,
circuit-id, remote-id) as plain lower-case hex without separators. Anything that does not fit
raises `BadValue`; parsers turn that into a quarantine, never a best guess.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_OCTETS = re.compile(r"[0-9a-fA-F]{1,2}(?::[0-9a-fA-F]{1,2})*")
_PLAIN = re.compile(r"(?:[0-9a-fA-F]{2})+")
_ESCAPE = re.compile(r"&#x([0-9a-fA-F]{2})")


class BadValue(ValueError):
    """A field that cannot be read exactly."""


def hex_of(text: str) -> str:
    """`0:1:3:e9` (dhcpd drops leading zeros), `17:34:e2` or `686f77` as plain lower hex."""
    if ":" in text:
        if not _OCTETS.fullmatch(text):
            raise BadValue(f"not colon hex: {text!r}")
        return "".join(part.zfill(2) for part in text.split(":")).lower()
    if not _PLAIN.fullmatch(text):
        raise BadValue(f"not hex: {text!r}")
    return text.lower()


def mac_of(text: str) -> str:
    """A six-octet MAC in lower-case colon form."""
    plain = hex_of(text)
    if len(plain) != 12:
        raise BadValue(f"not a 6-octet MAC: {text!r}")
    return ":".join(plain[i:i + 2] for i in range(0, 12, 2))


def printable(raw: bytes) -> str:
    """Bytes as text when they are printable ASCII, else `hex:...` so nothing is mangled."""
    if raw.isascii() and raw.decode("ascii").isprintable():
        return raw.decode("ascii")
    return "hex:" + raw.hex()


def kea_unescape(text: str) -> str:
    """Kea's CSV writer escapes commas (and only what it must) as `&#xHH`, with no `;`."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def epoch(seconds: int) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise BadValue(f"epoch seconds out of range: {seconds}") from None
