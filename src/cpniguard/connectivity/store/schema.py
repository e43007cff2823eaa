"""The store's own row type and its on-disk encoding.

Every address, IPv4 or IPv6, becomes one 128-bit key (two uint64 halves) plus a prefix length
counted in that 128-bit space, so one sorted index and one containment test serve both
families. IPv4 is mapped into ::ffff:0:0/96; an IPv6 row inside that block is refused at write
time, because it would share keys with IPv4 and a lookup could then name the wrong holder.

Times are int64 microseconds since the Unix epoch, UTC. An open interval (no record says when
it ended) has end == OPEN_END, which no real instant reaches.

End-of-interval facts (`terminate_cause`, `octets_in`, `octets_out`) describe the whole
interval, so once it is split at UTC midnight only the piece carrying the interval's end keeps
them (`writer.split_days`): a reader that sums rows counts each interval once. Partitions
written before these columns existed have none; `END_COLUMNS` read there as null.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from cpniguard.connectivity.events import IDENTITY_FIELDS, Evidence, Network

OPEN_END = 2**63 - 1
ALL_PORTS = -1
DAY_US = 86_400_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_V4_MAPPED = 0xFFFF << 32  # ::ffff:0:0 as a 128-bit integer
_V4_MAPPED_NET = ipaddress.IPv6Network("::ffff:0:0/96")
_U64 = 2**64 - 1

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def to_us(moment: datetime) -> int:
    """Aware datetime -> microseconds since the epoch. Naive times are refused, not assumed UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: the zone is unknown")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_us(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def address_key(address: Address | Network | str) -> tuple[int, int, int]:
    """(hi, lo, prefix length in 128-bit space) for an address or network."""
    if isinstance(address, str) and "/" not in address:
        return _host_key(address)  # the hot path of batch lookups: cached, no network object
    if isinstance(address, ipaddress.IPv4Address):
        value = _V4_MAPPED | int(address)
        return value >> 64, value & _U64, 128
    if isinstance(address, str):
        address = ipaddress.ip_network(address, strict=True) if "/" in address else (
            ipaddress.ip_address(address)
        )
    if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
        address = ipaddress.ip_network(address)
    if isinstance(address, ipaddress.IPv4Network):
        value = _V4_MAPPED | int(address.network_address)
        plen = address.prefixlen + 96
    else:
        if address.overlaps(_V4_MAPPED_NET):
            raise ValueError(f"{address} overlaps ::ffff:0:0/96, which is reserved for IPv4 keys")
        value = int(address.network_address)
        plen = address.prefixlen
    return value >> 64, value & _U64, plen


@lru_cache(maxsize=1 << 17)
def _host_key(text: str) -> tuple[int, int, int]:
    parts = text.split(".")
    # Plain dotted-quad IPv4 without the ipaddress module (a fifth of a lookup otherwise);
    # anything else, leading zeros included, gets ipaddress's own parse and refusals.
    if len(parts) == 4 and all(p.isascii() and p.isdigit() and len(p) <= 3
                               and (p == "0" or p[0] != "0") for p in parts):
        a, b, c, d = (int(p) for p in parts)
        if a < 256 and b < 256 and c < 256 and d < 256:
            return 0, _V4_MAPPED | (a << 24) | (b << 16) | (c << 8) | d, 128
    parsed = ipaddress.ip_address(text)
    if isinstance(parsed, ipaddress.IPv4Address):
        value = _V4_MAPPED | int(parsed)
        return value >> 64, value & _U64, 128
    if parsed in _V4_MAPPED_NET:
        raise ValueError(f"{parsed} overlaps ::ffff:0:0/96, which is reserved for IPv4 keys")
    value = int(parsed)
    return value >> 64, value & _U64, 128


def key_network(hi: int, lo: int, plen: int) -> Network:
    value = (hi << 64) | lo
    if plen >= 96 and value >> 32 == 0xFFFF:
        return ipaddress.IPv4Network((value & 0xFFFFFFFF, plen - 96))
    return ipaddress.IPv6Network((value, plen))


def _mask_of(plen: int) -> tuple[int, int]:
    mask = (_U64 << 64 | _U64) ^ ((1 << (128 - plen)) - 1)
    return mask >> 64, mask & _U64


_MASKS = tuple(_mask_of(plen) for plen in range(129))  # every row read checks its mask


def prefix_mask(plen: int) -> tuple[int, int]:
    """The (hi, lo) halves of a 128-bit netmask of `plen` bits."""
    if not 0 <= plen <= 128:
        raise ValueError(f"prefix length {plen} outside 0..128")
    return _MASKS[plen]


@dataclass(frozen=True, slots=True)
class StoredInterval:
    """One row: a holding of a network, within one UTC day once written."""

    hi: int
    lo: int
    plen: int
    start: int                 # microseconds UTC, inclusive
    end: int                   # microseconds UTC, exclusive; OPEN_END if no record ends it
    original_start: int        # the interval as built, before the day split: evidence
    original_end: int
    source: str = ""           # source kind: radius, dhcp, cgnat, ...
    last_seen: int | None = None  # for open intervals: the last instant a record proved it
    port_first: int = ALL_PORTS
    port_last: int = ALL_PORTS
    username: str = ""
    mac: str = ""
    client_id: str = ""
    duid: str = ""
    circuit_id: str = ""
    remote_id: str = ""
    device: str = ""
    session_id: str = ""
    flags: str = ""            # comma-separated, sorted, so equal sets encode equally
    evidence: tuple[Evidence, ...] = ()
    # RADIUS only, None where unknown. The cause of the Stop that ended the interval, as
    # logged (User-Request, Lost-Carrier, ...); the octets counted while it was held, Gigawords
    # applied (see intervals_radius for how a session's counters are shared out).
    terminate_cause: str | None = None
    octets_in: int | None = None
    octets_out: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.plen <= 128:
            raise ValueError(f"prefix length {self.plen} outside 0..128")
        if not (0 <= self.hi <= _U64 and 0 <= self.lo <= _U64):
            raise ValueError("key halves must be unsigned 64-bit")
        mask_hi, mask_lo = prefix_mask(self.plen)
        if self.hi & ~mask_hi or self.lo & ~mask_lo:
            raise ValueError("host bits set below the prefix length")
        if self.start > self.end or self.original_start > self.original_end:
            raise ValueError(f"interval ends before it starts ({self.start} > {self.end})")
        ports = (self.port_first, self.port_last)
        if ports != (ALL_PORTS, ALL_PORTS) and not 0 <= ports[0] <= ports[1] <= 65535:
            raise ValueError(f"bad port range {ports}")
        for octets in (self.octets_in, self.octets_out):
            if octets is not None and not 0 <= octets < 2**63:
                raise ValueError(f"octet counter {octets} outside 0..2**63-1")

    @property
    def address(self) -> Network:
        return key_network(self.hi, self.lo, self.plen)

    @property
    def is_open(self) -> bool:
        return self.end == OPEN_END


def from_interval(obj: Any, source: str | None = None) -> StoredInterval:
    """Convert anything shaped like `connectivity.intervals.Interval` (duck typing)."""
    hi, lo, plen = address_key(obj.address)
    start = to_us(obj.start)
    end = OPEN_END if obj.end is None else to_us(obj.end)
    last_seen = getattr(obj, "last_seen", None)
    port_first = getattr(obj, "port_first", None)
    port_last = getattr(obj, "port_last", None)
    if (port_first is None) != (port_last is None):
        raise ValueError("port_first and port_last must both be set or both be None")
    kind = source if source is not None else str(getattr(obj, "source", ""))
    return StoredInterval(
        hi=hi, lo=lo, plen=plen, start=start, end=end, original_start=start, original_end=end,
        source=kind,
        last_seen=None if last_seen is None else to_us(last_seen),
        port_first=ALL_PORTS if port_first is None else int(port_first),
        port_last=ALL_PORTS if port_last is None else int(port_last),
        **{name: getattr(obj, name, "") for name in IDENTITY_FIELDS},
        device=getattr(obj, "device", ""), session_id=getattr(obj, "session_id", ""),
        flags=",".join(sorted(str(flag) for flag in getattr(obj, "flags", ()))),
        evidence=tuple(
            Evidence(file=e.file, line=e.line, sha256=getattr(e, "sha256", ""))
            for e in getattr(obj, "evidence", ())
        ),
        terminate_cause=getattr(obj, "terminate_cause", None) or None,
        octets_in=getattr(obj, "octets_in", None), octets_out=getattr(obj, "octets_out", None),
    )


_EVIDENCE = pa.struct([("file", pa.string()), ("line", pa.int64()), ("sha256", pa.string())])
_STRINGS = ("source", *IDENTITY_FIELDS, "device", "session_id", "flags")
ARROW_SCHEMA = pa.schema(
    [("hi", pa.uint64()), ("lo", pa.uint64()), ("plen", pa.uint8()),
     ("start", pa.int64()), ("end", pa.int64()),
     ("original_start", pa.int64()), ("original_end", pa.int64()),
     ("last_seen", pa.int64()), ("port_first", pa.int32()), ("port_last", pa.int32())]
    + [(name, pa.string()) for name in _STRINGS]
    + [("evidence", pa.list_(_EVIDENCE))]
    + [("terminate_cause", pa.string()), ("octets_in", pa.int64()), ("octets_out", pa.int64())]
)
# Added after the first partitions were written: older files lack them (read as null).
END_COLUMNS = ("terminate_cause", "octets_in", "octets_out")


def to_table(rows: list[StoredInterval]) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in ARROW_SCHEMA.names}
    for row in rows:
        for name in ARROW_SCHEMA.names:
            value = getattr(row, name)
            if name == "evidence":
                value = [{"file": e.file, "line": e.line, "sha256": e.sha256} for e in value]
            columns[name].append(value)
    return pa.Table.from_pydict(columns, schema=ARROW_SCHEMA)


def with_all_columns(table: pa.Table) -> pa.Table:
    """`table` with every ARROW_SCHEMA column: the ones an older partition lacks, as nulls."""
    present = set(table.column_names)
    for name in ARROW_SCHEMA.names:
        if name not in present:  # (the set: `column_names` builds a new list on every call)
            field = ARROW_SCHEMA.field(name)
            table = table.append_column(field, pa.nulls(len(table), field.type))
    return table


def from_table(table: pa.Table) -> list[StoredInterval]:
    rows = []
    for record in with_all_columns(table).to_pylist():
        record["evidence"] = tuple(Evidence(**e) for e in record["evidence"])
        rows.append(StoredInterval(**record))
    return rows
