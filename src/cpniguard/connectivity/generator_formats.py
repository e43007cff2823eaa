"""Text of the synthetic logs, byte for byte as the real writers lay it out, their files, and
the small records the simulation (`generator`) keeps per subscriber and per pool.

Kept apart from the simulation (`generator`) so each format can be checked against its parser
alone. Month and weekday names come from fixed English tables, never strftime, whose names
follow the process locale: the same seed must give the same bytes on every machine.
"""

from __future__ import annotations

import csv
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BufferedWriter
from pathlib import Path
from zoneinfo import ZoneInfo

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TRUTH_FIELDS = ("subscriber_id", "source", "identity_kind", "identity_value", "address",
                "inside_address", "port_first", "port_last", "start_utc", "end_utc")


def local(epoch: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(epoch, tz)


def ctime(epoch: int, tz: ZoneInfo) -> str:
    """FreeRADIUS's record header: `Mon Mar  4 10:00:05 2024` in the server's zone."""
    t = local(epoch, tz)
    return (f"{WEEKDAYS[t.weekday()]} {MONTHS[t.month - 1]} {t.day:2d} "
            f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} {t.year}")


def syslog_time(epoch: int, tz: ZoneInfo) -> str:
    """BSD syslog `Mar  4 10:00:05`: local and yearless, as Junos writes it."""
    t = local(epoch, tz)
    return f"{MONTHS[t.month - 1]} {t.day:2d} {t.hour:02d}:{t.minute:02d}:{t.second:02d}"


def dhcpd_date(epoch: int) -> str:
    """dhcpd's UTC `W YYYY/MM/DD HH:MM:SS` with weekday 0 = Sunday."""
    t = datetime.fromtimestamp(epoch, UTC)
    return f"{(t.weekday() + 1) % 7} {t:%Y/%m/%d %H:%M:%S}"


def iso_utc(epoch: int | None) -> str:
    return "" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def radius_record(header_epoch: int, tz: ZoneInfo, attributes: list[tuple[str, str]]) -> str:
    lines = [ctime(header_epoch, tz)]
    lines += [f"\t{name} = {value}" for name, value in attributes]
    return "\n".join(lines) + "\n\n"


def counters(total_in: int, total_out: int) -> list[tuple[str, str]]:
    """RFC 2869 gigawords: the 32-bit octet counters wrap, the high part is counted apart."""
    mask = (1 << 32) - 1
    return [("Acct-Input-Octets", str(total_in & mask)),
            ("Acct-Input-Gigawords", str(total_in >> 32)),
            ("Acct-Output-Octets", str(total_out & mask)),
            ("Acct-Output-Gigawords", str(total_out >> 32))]


def lease_block(address: str, *, starts: int, ends: int, written: int, state: str, mac: str,
                circuit: str, remote: str, hostname: str) -> str:
    """One dhcpd.leases block as dhcpd appends it on grant, renew, release or expiry."""
    lines = [f"lease {address} {{",
             f"  starts {dhcpd_date(starts)};",
             f"  ends {dhcpd_date(ends)};"]
    if state != "active":
        lines.append(f"  tstp {dhcpd_date(ends)};")
    lines += [f"  cltt {dhcpd_date(written)};",
              f"  binding state {state};"]
    if state == "active":
        lines += ["  next binding state free;", "  rewind binding state free;"]
    lines += [f"  hardware ethernet {mac};",
              f'  option agent.circuit-id "{circuit}";',
              f'  option agent.remote-id "{remote}";',
              f'  client-hostname "{hostname}";',
              "}"]
    return "\n".join(lines) + "\n"


def juniper_line(epoch: int, tz: ZoneInfo, host: str, what: str, inside: str, public: str,
                 first: int, last: int, allocated: int, service_set: str) -> str:
    return (f"{syslog_time(epoch, tz)} {host} (FPC Slot 2, PIC Slot 0) {{{service_set}}}"
            f"[FWNAT]: JSERVICES_NAT_PORT_BLOCK_{what}: {inside} -> {public}:{first}-{last} "
            f"0x{allocated:08x}\n")


@dataclass(frozen=True, slots=True)
class GeneratedSet:
    out_dir: Path
    files: tuple[tuple[str, int, int], ...]  # (path relative to out_dir, lines, bytes)
    truth: Path
    truth_rows: int
    subscribers: int
    sessions: int
    refused: int      # DHCP grants refused because the pool was exhausted (retried later)
    overflow: int     # public-address sessions put behind CGNAT for want of a free address
    seconds: float

    @property
    def lines(self) -> int:
        return sum(lines for _, lines, _ in self.files)

    @property
    def bytes(self) -> int:
        return sum(size for _, _, size in self.files)


@dataclass(slots=True)
class Subscriber:
    index: int
    kind: str          # "radius", "cgnat" or "dhcp"
    nas: int
    mac: str
    prefix: str        # delegated IPv6 /56, or ""
    token: int = 0     # bumped on each connect: actions of an older session are stale
    online: bool = False
    natted: bool = False  # this session is behind CGNAT
    address: str = ""
    since: int = 0     # when `address` was taken
    started: int = 0   # session (or lease) start
    session_id: str = ""
    octets: tuple[int, int] = (0, 0)
    rate: int = 0      # bytes per second, split between directions
    nat: tuple[str, int, int, int] | None = None  # (public, first port, last port, allocated)

    @property
    def ident(self) -> int:
        return 1000000 + self.index

    @property
    def user(self) -> str:
        return f"acct{self.ident}@example.net"


class Pool:
    """Free items, least recently released first, as address pools hand them out."""

    def __init__(self, items: list[str]) -> None:
        self.free: dict[str, None] = dict.fromkeys(items)

    def take(self, prefer: str = "") -> str | None:
        if prefer in self.free:
            del self.free[prefer]
            return prefer
        if not self.free:
            return None
        item = next(iter(self.free))
        del self.free[item]
        return item

    def give(self, item: str) -> None:
        self.free[item] = None


def hosts(network: str) -> list[str]:
    return [str(a) for a in ipaddress.IPv4Network(network).hosts()]


class Files:
    """Open output files, at most one per stream, rotated as the stream's day changes.

    Writes arrive in time order, so a stream never goes back to a closed day: one handle per
    stream keeps memory and descriptors constant however many days are generated.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.open: dict[str, tuple[Path, BufferedWriter]] = {}
        self.written: dict[Path, tuple[int, int]] = {}  # path -> (lines, bytes)
        self.header: dict[str, str] = {}  # stream -> text every new file starts with

    def write(self, stream: str, relative: str, text: str) -> None:
        path = self.root / relative
        current = self.open.get(stream)
        if current is None or current[0] != path:
            if current is not None:
                current[1].close()
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = path.open("ab")
            self.open[stream] = (path, handle)
            if stream in self.header and path not in self.written:
                self._put(path, handle, self.header[stream])
        path, handle = self.open[stream]
        self._put(path, handle, text)

    def _put(self, path: Path, handle: BufferedWriter, text: str) -> None:
        data = text.encode("utf-8")
        handle.write(data)
        lines, size = self.written.get(path, (0, 0))
        self.written[path] = (lines + text.count("\n"), size + len(data))

    def close(self) -> None:
        for _, handle in self.open.values():
            handle.close()
        self.open.clear()


class Truth:
    """truth.csv, one row per holding, written when the holding ends (or the period does)."""

    def __init__(self, path: Path) -> None:
        self.handle = path.open("w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.handle, lineterminator="\n")
        self.writer.writerow(TRUTH_FIELDS)
        self.rows = 0

    def row(self, subscriber: int, source: str, kind: str, value: str, address: str,
            start: int, end: int | None, *, inside: str = "", first: int | None = None,
            last: int | None = None) -> None:
        self.writer.writerow((subscriber, source, kind, value, address, inside,
                              "" if first is None else first, "" if last is None else last,
                              iso_utc(start), iso_utc(end)))
        self.rows += 1

    def close(self) -> None:
        self.handle.close()
