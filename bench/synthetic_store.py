"""A large embedded log store written straight through the store's writer, for query benchmarks.

No text is parsed (ingest speed is `log_store.py`'s job): each day's assignment events are
built as columns and handed to `write_table`, one day (and at most CHUNK_ROWS rows) at a time,
so memory stays bounded whatever the size (peak well under 4 GiB at 100M events).

The fictional ISP: POPS points of presence, each with NAS_PER_POP NASes (192.0.2.0/24), one
DHCP server, one CGNAT box, and access devices (OLTs) named by the circuit ids of the leases.
About events / (days * 6) subscribers, each about six events a day:

- 60 % PPPoE over RADIUS: three sessions a day, each an IPv4 address and an IPv6 prefix
  (2001:db8::/32, /56) from its NAS's pools, with the session's id: two rows per session;
- 30 % DHCP: six leases a day from the POP's pool, with circuit id `olt-<pop>-<n>/1/<port>`
  (option 82);
- 10 % behind CGNAT: six port blocks of 512 ports a day on the POP's CGNAT addresses of
  198.19.0.0/16, inside address in 100.64.0.0/10 as the session id (as the NAT parsers write).

Addresses come from per-device pools, as on a real network: a device's rows are neighbours
in the store's key order, which is what lets a per-device query skip row groups.

A subscriber's sessions follow one another with gaps of 30 s to 10 min, the last of a day
running over midnight into the next; lengths vary per session. Injected, with their truth:
a NAS restart on day 1 (every session of one NAS up at T closed at T by the Accounting-On,
flag `closed-by-nas-restart`, each subscriber back 1-10 min later) and, from day 3 on, a POP
cut (every RADIUS session of a POP's NASes up at T stopped within 60 s after T). Other days
are quiet: their only ends are ordinary churn.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]

from cpniguard.connectivity.store.schema import ARROW_SCHEMA, DAY_US
from cpniguard.connectivity.store.writer import write_table

POPS = 4
NAS_PER_POP = 3
EVENTS_PER_DAY = 6
CHUNK_ROWS = 2_000_000
FIRST_DAY = 20_089              # 2025-01-01, days since the epoch
RESTART = "closed-by-nas-restart"
Ints = npt.NDArray[np.int64]
Plan = list[tuple[str, set[int], int, int]]   # (kind, NAS numbers, at µs, spread µs)


@dataclass(frozen=True)
class InjectedOutage:
    level: str                  # "nas" or "pop"
    group: str                  # the NAS, or the POP
    at: int                     # µs UTC
    kind: str                   # "restart" or "cut"
    sessions: int               # sessions it ended (RADIUS)


@dataclass
class SyntheticTruth:
    root: Path
    events: int
    days: int
    subscribers: int
    since: int                  # µs UTC, 00:00 of the first day
    outages: list[InjectedOutage] = field(default_factory=list)
    quiet_days: list[int] = field(default_factory=list)   # day numbers from 0
    rows: dict[str, int] = field(default_factory=dict)    # rows written per source

    def nas(self, pop: int, number: int) -> str:
        return nas_name(pop, number)

    def username(self, subscriber: int) -> str:
        return f"sub{subscriber:07d}@example.net"


def nas_name(pop: int, number: int) -> str:
    return f"192.0.2.{10 * (pop + 1) + number}"


def pop_name(pop: int) -> str:
    return f"pop-{pop + 1}"


def network_toml() -> str:
    """The network.toml that describes the synthetic ISP (POPs, OLTs, pools)."""
    lines = ['cgnat_public_pools = ["198.19.0.0/16"]',
             'access_pattern = "^(?P<access>olt-[0-9]+-[0-9]+)/"', ""]
    for pop in range(POPS):
        devices = [nas_name(pop, n) for n in range(NAS_PER_POP)]
        devices += [f"192.0.2.{100 + pop}", f"192.0.2.{200 + pop}"]
        lines += [f"[pops.{pop_name(pop)}]",
                  "devices = [" + ", ".join(f'"{d}"' for d in devices) + "]", ""]
    lines += ["[pools.radius-v4]", 'networks = ["198.18.0.0/17"]', "",
              "[pools.dhcp-v4]", 'networks = ["198.18.128.0/17"]', ""]
    return "\n".join(lines)


def _timelines(rng: np.random.Generator, count: int, per_day: int, offsets: Ints,
               next_offsets: Ints, day_us: int) -> tuple[Ints, Ints, Ints]:
    """(owner, start, end) of `per_day` back-to-back sessions per owner in one day; the last
    ends just before the owner's first session of the next day."""
    gaps = rng.integers(30, 600, size=(count, per_day)) * 1_000_000
    room = DAY_US + next_offsets - offsets - gaps.sum(axis=1)
    weights = rng.exponential(1.0, size=(count, per_day)) + 0.2
    lengths = (weights / weights.sum(axis=1, keepdims=True) * room[:, None]).astype(np.int64)
    ends_rel = np.cumsum(lengths + gaps, axis=1) - gaps
    starts_rel = ends_rel - lengths
    owner = np.repeat(np.arange(count, dtype=np.int64), per_day)
    start = day_us + offsets[owner] + starts_rel.reshape(-1)
    end = day_us + offsets[owner] + ends_rel.reshape(-1)
    return owner, start, end


def _strings(values: list[str] | npt.NDArray[np.object_], count: int) -> pa.Array:
    if isinstance(values, list) and len(values) == 1:
        return pa.repeat(values[0], count)
    return pa.array(values, pa.string())


def _table(columns: dict[str, pa.Array], count: int, evidence_file: str) -> pa.Table:
    sha = hashlib.sha256(evidence_file.encode()).hexdigest()
    struct = pa.StructArray.from_arrays(
        [pa.repeat(evidence_file, count), pa.array(np.arange(1, count + 1) * 7, pa.int64()),
         pa.repeat(sha, count)], names=["file", "line", "sha256"])
    columns["evidence"] = pa.ListArray.from_arrays(
        pa.array(np.arange(count + 1, dtype=np.int32)), struct)
    arrays = []
    for spec in ARROW_SCHEMA:
        if spec.name in columns:
            arrays.append(columns[spec.name].cast(spec.type))
        elif pa.types.is_string(spec.type):
            arrays.append(pa.repeat("", count))
        else:  # columns added later (end-of-interval facts...): unknown here
            arrays.append(pa.nulls(count, spec.type))
    return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)


def _v4(addresses: Ints) -> tuple[Ints, Ints]:
    return np.zeros(len(addresses), np.int64), (0xFFFF << 32) | addresses


def _common(start: Ints, end: Ints, hi: Ints, lo: Ints, plen: int | Ints, source: str,
            device: npt.NDArray[np.object_]) -> dict[str, pa.Array]:
    count = len(start)
    return {"hi": pa.array(hi.astype(np.uint64)), "lo": pa.array(lo.astype(np.uint64)),
            "plen": pa.array(np.broadcast_to(np.asarray(plen, np.uint8), (count,)).copy()),
            "start": pa.array(start), "end": pa.array(end),
            "original_start": pa.array(start), "original_end": pa.array(end),
            "last_seen": pa.nulls(count, pa.int64()),
            "port_first": pa.array(np.full(count, -1, np.int32)),
            "port_last": pa.array(np.full(count, -1, np.int32)),
            "source": pa.repeat(source, count), "device": pa.array(device, pa.string())}


def _cut(owner: Ints, start: Ints, end: Ints, nas_of: Ints, hit: set[int], at: int,
         rng: np.random.Generator, spread_us: int) -> tuple[Ints, Ints, Ints, Ints, int]:
    """Sessions of NASes `hit` up at `at` end (within `spread_us`) and resume 1-10 min later.
    Returns owner, start, end, ended-by-the-outage mask, count."""
    up = np.isin(nas_of[owner], list(hit)) & (start < at) & (end > at)
    stop = at + (rng.integers(0, spread_us, size=int(up.sum())) if spread_us else 0)
    back = at + rng.integers(60, 600, size=int(up.sum())) * 1_000_000
    resumed_end = end[up]
    keep = back < resumed_end
    new_end = end.copy()
    new_end[up] = stop
    flagged = np.zeros(len(owner), bool)
    flagged[up] = True
    owner = np.concatenate([owner, owner[up][keep]])
    start = np.concatenate([start, back[keep]])
    end = np.concatenate([new_end, resumed_end[keep]])
    flagged = np.concatenate([flagged, np.zeros(int(keep.sum()), bool)])
    return owner, start, end, flagged, int(up.sum())


def _usernames(subscribers: Ints) -> pa.Array:
    return pa.array([f"sub{s:07d}@example.net" for s in subscribers.tolist()], pa.string())


def _radius(rng: np.random.Generator, subs: Ints, offsets: Ints, next_offsets: Ints,
            day_us: int, outages: Plan,
            truth: SyntheticTruth) -> pa.Table:
    owner, start, end = _timelines(rng, len(subs), 3, offsets, next_offsets, day_us)
    nas_of = subs % (POPS * NAS_PER_POP)
    flagged = np.zeros(len(owner), bool)
    for kind, hit, at, spread in outages:
        owner, start, end, cut, count = _cut(owner, start, end, nas_of, hit, at, rng,
                                             spread)
        flagged = np.concatenate([flagged, np.zeros(len(cut) - len(flagged), bool)])
        if kind == "restart":
            flagged |= cut
        truth.outages = [o if o.at != at else InjectedOutage(o.level, o.group, o.at, o.kind,
                                                             o.sessions + count)
                         for o in truth.outages]
    sub = subs[owner]
    sessions = len(owner)
    session_id = pa.array([f"{s:x}-{t // 1_000_000:x}" for s, t in
                           zip(sub.tolist(), start.tolist(), strict=True)], pa.string())
    nas = np.array([nas_name(int(n) // NAS_PER_POP, int(n) % NAS_PER_POP)
                    for n in range(POPS * NAS_PER_POP)], dtype=object)[nas_of[owner]]
    # Two rows per session: the IPv4 address and the delegated IPv6 prefix.
    # Each NAS hands out its own pool (as real NASes do): 2,730 IPv4 addresses of
    # 198.18.0.0/17 and a /40 of IPv6 prefixes, so a NAS's rows sit together in the key order.
    nas_number = nas_of[owner]
    v4_hi, v4_lo = _v4(0xC6120000 + nas_number * 2730 + (sub // 12) % 2730)
    v6_hi = (0x20010DB8 << 32) | (nas_number << 24) | (((sub // 12) & 0xFFFF) << 8)
    both = np.concatenate
    columns = _common(both([start, start]), both([end, end]), both([v4_hi, v6_hi]),
                      both([v4_lo, np.zeros(sessions, np.int64)]),
                      both([np.full(sessions, 128), np.full(sessions, 56)]), "radius",
                      both([nas, nas]))
    names = _usernames(subs).take(pa.array(both([owner, owner])))
    columns.update(username=names, session_id=pa.concat_arrays([session_id, session_id]),
                   flags=pa.array(np.where(both([flagged, flagged]), RESTART, ""), pa.string()))
    return _table(columns, 2 * sessions, f"/var/log/synthetic/radius-{day_us // DAY_US}")


def _dhcp(rng: np.random.Generator, subs: Ints, offsets: Ints, next_offsets: Ints,
          day_us: int) -> pa.Table:
    owner, start, end = _timelines(rng, len(subs), EVENTS_PER_DAY, offsets, next_offsets,
                                   day_us)
    sub = subs[owner]
    pop = (subs % (POPS * NAS_PER_POP)) // NAS_PER_POP
    hi, lo = _v4(0xC6128000 + pop[owner] * 8192 + (sub // 12) % 8192)  # a pool per POP
    server = np.array([f"192.0.2.{100 + p}" for p in range(POPS)], dtype=object)[pop[owner]]
    columns = _common(start, end, hi, lo, 128, "dhcp", server)
    macs = pa.array([f"02:00:{s >> 24 & 255:02x}:{s >> 16 & 255:02x}:{s >> 8 & 255:02x}:"
                     f"{s & 255:02x}" for s in subs.tolist()], pa.string())
    circuits = pa.array([f"olt-{p + 1}-{s % 16}/1/{s % 64}" for s, p in
                         zip(subs.tolist(), pop.tolist(), strict=True)], pa.string())
    take = pa.array(owner)
    columns.update(mac=macs.take(take), circuit_id=circuits.take(take))
    return _table(columns, len(owner), f"/var/log/synthetic/dhcpd-{day_us // DAY_US}.leases")


def _cgnat(rng: np.random.Generator, subs: Ints, offsets: Ints, next_offsets: Ints,
           day_us: int) -> pa.Table:
    owner, start, end = _timelines(rng, len(subs), EVENTS_PER_DAY, offsets, next_offsets,
                                   day_us)
    sub = subs[owner]
    pop = (subs % (POPS * NAS_PER_POP)) // NAS_PER_POP
    slot = sub // 10  # every CGNAT subscriber is a multiple of ten plus nine
    hi, lo = _v4(0xC6130000 + pop[owner] * 16384 + (slot // 100) % 16384)  # per CGNAT box
    box = np.array([f"192.0.2.{200 + p}" for p in range(POPS)], dtype=object)[pop[owner]]
    columns = _common(start, end, hi, lo, 128, "cgnat", box)
    first = 1024 + 512 * (slot % 100)
    inside = pa.array([f"inside=100.{64 + (s >> 16 & 63)}.{s >> 8 & 255}.{s & 255}"
                       for s in subs.tolist()], pa.string())
    columns.update(port_first=pa.array(first.astype(np.int32)),
                   port_last=pa.array((first + 511).astype(np.int32)),
                   session_id=inside.take(pa.array(owner)))
    return _table(columns, len(owner), f"/var/log/synthetic/nat-{day_us // DAY_US}.log")


def _plan(truth: SyntheticTruth, rng: np.random.Generator) -> dict[int, Plan]:
    """Which outage happens on which day, at what instant, to which NASes."""
    plan: dict[int, Plan] = {}
    if truth.days >= 2:
        at = truth.since + DAY_US + int(rng.integers(8 * 3600, 11 * 3600)) * 1_000_000
        truth.outages.append(InjectedOutage("nas", nas_name(0, 0), at, "restart", 0))
        plan[1] = [("restart", {0}, at, 0)]
    if truth.days >= 4:
        at = truth.since + 3 * DAY_US + int(rng.integers(14 * 3600, 17 * 3600)) * 1_000_000
        truth.outages.append(InjectedOutage("pop", pop_name(1), at, "cut", 0))
        plan[3] = [("cut", {NAS_PER_POP + n for n in range(NAS_PER_POP)}, at, 60_000_000)]
    truth.quiet_days = [d for d in range(truth.days) if d not in plan]
    return plan


def build_store(root: Path, events: int, days: int, seed: int) -> SyntheticTruth:
    """Write about `events` assignment events over `days` UTC days into the store at `root`."""
    subscribers = max(10, events // (days * EVENTS_PER_DAY))
    rng = np.random.default_rng(seed)
    truth = SyntheticTruth(root, events, days, subscribers, FIRST_DAY * DAY_US)
    plan = _plan(truth, rng)
    everyone = np.arange(subscribers, dtype=np.int64)
    kinds = {"radius": everyone[everyone % 10 < 6], "dhcp": everyone[(everyone % 10 >= 6)
                                                                     & (everyone % 10 < 9)],
             "cgnat": everyone[everyone % 10 == 9]}
    block = max(1, CHUNK_ROWS // EVENTS_PER_DAY)
    # First-session offsets of every subscriber for every day (and the day after the last).
    offsets = rng.integers(0, 3600, size=(days + 1, subscribers)) * 1_000_000
    for day in range(days):
        day_us = truth.since + day * DAY_US
        for source, subs in kinds.items():
            for first in range(0, len(subs), block):
                part = subs[first:first + block]
                args = (rng, part, offsets[day][part], offsets[day + 1][part], day_us)
                if source == "radius":
                    table = _radius(*args, plan.get(day, []), truth)
                elif source == "dhcp":
                    table = _dhcp(*args)
                else:
                    table = _cgnat(*args)
                write_table(root, source, table)
                truth.rows[source] = truth.rows.get(source, 0) + len(table)
                del table
    return truth
