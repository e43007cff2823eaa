"""From stored intervals to sessions: what a subscriber or a NOC engineer calls a connection.

The store keeps address holdings, which is what attribution needs; one connection can be
several of them, and counting rows would count artefacts of the logs rather than of the
network:

- a RADIUS session holds an IPv4 address and a delegated IPv6 prefix (two rows), and an
  address change inside it splits the IPv4 row: the rows of one (device, session id) that
  overlap or touch are one session;
- a session alive when a detail file rotates is open at the end of one file and goes on,
  without a Start, in the next; a CGNAT port block likewise; and a DHCP lease renewed in the
  next day's lease file starts again there. An open (or overlapping) row followed by a row of
  the same holder, address and device is the same session.

How a session ended is read from its last row: `closed-by-nas-restart` (an Accounting-On/Off
closed it), a recorded end (a Stop, a release, an expiry), or none. A session with no recorded
end is `open` while its device kept logging for less than LOST_AFTER after the session's
last record (it is simply still up at the end of the logs), and `no-stop` (lost: it stopped
being reported, nobody said why) otherwise, ending at its last record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]

from cpniguard.connectivity.events import Flag
from cpniguard.connectivity.store.schema import OPEN_END, key_network

LOST_AFTER = 3_600_000_000  # µs: above any interim interval NASes are configured with
_NO_START = str(Flag.NO_START)
_RESTART = str(Flag.CLOSED_BY_NAS_RESTART)
_IDENTITIES = ("username", "mac", "client_id", "duid", "remote_id", "circuit_id")


class EndKind(StrEnum):
    STOP = "stop"                  # a recorded end: Stop, release, expiry
    NAS_RESTART = "nas-restart"    # closed by the NAS's Accounting-On/Off
    NO_STOP = "no-stop"            # lost: no end recorded, and its device went on logging
    OPEN = "open"                  # still up at the end of its device's logs


@dataclass(slots=True)
class Session:
    source: str
    device: str                    # the NAS, DHCP server or CGNAT box; the source if unnamed
    holder: str                    # the identity that held it (username, MAC, inside address)
    start: int                     # µs UTC
    finish: int                    # µs UTC: the recorded end, else the last record
    kind: EndKind
    addresses: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    rows: list[int] = field(default_factory=list)  # rows of the scanned table, for evidence
    ports: tuple[int, int] | None = None

    @property
    def ended(self) -> bool:
        return self.kind is not EndKind.OPEN

    @property
    def seconds(self) -> float:
        return (self.finish - self.start) / 1e6


def device_of(source: str, device: str) -> str:
    # dhcpd.leases does not name its server: the source stands for it.
    return device or source


def holder_of(record: dict[str, object]) -> str:
    if str(record["source"]).endswith("nat") or str(record["session_id"]).startswith("inside="):
        return str(record["session_id"])
    for name in _IDENTITIES:
        value = record.get(name)
        if value:
            return f"{name}={value}"
    return ""


def _session_key(record: dict[str, object], address: str) -> tuple[object, ...]:
    if record["session_id"] and not str(record["session_id"]).startswith("inside="):
        return (record["source"], record["device"], record["session_id"])
    return (record["source"], record["device"], holder_of(record), address,
            record["port_first"])


def _end_of(record: dict[str, object]) -> int:
    end = int(str(record["original_end"]))
    if end != OPEN_END:
        return end
    seen = record.get("last_seen")
    return int(str(seen)) if seen is not None else int(str(record["original_start"]))


def sessions_of(table: pa.Table) -> list[Session]:
    """Sessions of a `scan` table (SESSION_COLUMNS at least), sorted by start."""
    records = table.to_pylist()
    groups: dict[tuple[object, ...], list[int]] = {}
    addresses: list[str] = []
    for number, record in enumerate(records):
        address = str(key_network(int(str(record["hi"])), int(str(record["lo"])),
                                  int(str(record["plen"]))))
        addresses.append(address)
        groups.setdefault(_session_key(record, address), []).append(number)
    newest = _newest_per_device(records)
    found: list[Session] = []
    for numbers in groups.values():
        numbers.sort(key=lambda n: (int(str(records[n]["original_start"])), n))
        current: Session | None = None
        current_open = False
        for number in numbers:
            record = records[number]
            start, end = int(str(record["original_start"])), _end_of(record)
            is_open = record["original_end"] == OPEN_END
            flags = {f for f in str(record["flags"]).split(",") if f}
            joins = current is not None and (
                start <= current.finish or (current_open and _NO_START in flags))
            if current is None or not joins:
                if current is not None:
                    found.append(current)
                current = Session(str(record["source"]),
                                  device_of(str(record["source"]), str(record["device"])),
                                  holder_of(record), start, end, EndKind.STOP)
                current_open = is_open
                current.kind = _kind(flags, is_open)
            elif end >= current.finish:
                current.finish, current_open = end, is_open
                current.kind = _kind(flags, is_open)
            current.rows.append(number)
            current.flags |= flags
            if addresses[number] not in current.addresses:
                current.addresses.append(addresses[number])
            if int(str(record["port_first"])) >= 0:
                current.ports = (int(str(record["port_first"])), int(str(record["port_last"])))
        if current is not None:
            found.append(current)
    for session in found:
        last = newest.get(session.device, session.finish)
        if session.kind is EndKind.NO_STOP and last - session.finish < LOST_AFTER:
            # Still up when its device's logs end: active until then, not ended.
            session.kind, session.finish = EndKind.OPEN, max(session.finish, last)
    found.sort(key=lambda s: (s.start, s.device, s.holder))
    return found


def _kind(flags: set[str], is_open: bool) -> EndKind:
    if is_open:
        return EndKind.NO_STOP  # until the device's later records say otherwise
    return EndKind.NAS_RESTART if _RESTART in flags else EndKind.STOP


def _newest_per_device(records: list[dict[str, object]]) -> dict[str, int]:
    newest: dict[str, int] = {}
    for record in records:
        device = device_of(str(record["source"]), str(record["device"]))
        newest[device] = max(newest.get(device, 0), _end_of(record))
    return newest


def finishes(sessions: list[Session]) -> npt.NDArray[np.int64]:
    return np.array([s.finish for s in sessions], dtype=np.int64)
