"""Synthetic connectivity logs of a fictional ISP, in the real formats, with their ground truth.

A discrete-event simulation: one priority queue of timed actions (connect, interim, renew,
disconnect, NAS reboot, NAT block release, and delayed accounting writes) is drained in time
order, so every file is written in the order its real writer would have, and address pools are
taken and given back at the simulated instant, never ahead of it. Memory is bounded by the
number of subscribers and pending actions, not by the days or lines generated.

Subscribers are of three kinds: PPPoE with a public address (RADIUS), PPPoE behind CGNAT
(RADIUS inside address from 100.64.0.0/10 plus Juniper port blocks on 192.0.2.0/24), and IPoE
served by ISC dhcpd. All addresses, names and MACs are reserved for documentation, so the
public pools are small (254 addresses each): when one runs dry a PPPoE session is put behind
CGNAT and a DHCP client is refused and retries, as an ISP short of IPv4 would do.

truth.csv holds one row per holding as the logs encode it: a session ended by a NAS reboot ends
at the Accounting-On (the only record of its end); a lease that was not released ends when it
expires; a holding still running when the period ends has an empty end_utc.
"""

from __future__ import annotations

import hashlib
import heapq
import ipaddress
import random
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from cpniguard.connectivity.generator_formats import (
    Files,
    GeneratedSet,
    Pool,
    Subscriber,
    Truth,
    counters,
    hosts,
    juniper_line,
    lease_block,
    local,
    radius_record,
)

NAT_HOST = "cgn1.example.net"
DHCP_SERVER = "192.0.2.40"
LEASE_SECONDS = 3600
NAS_BOOT_SECONDS = 120    # from the crash to the Accounting-On sent at boot
NAT_IDLE_SECONDS = 300    # the CGN frees a dead subscriber's block after its flows time out
CAUSES = (("User-Request", 40), ("Lost-Carrier", 25), ("Idle-Timeout", 15),
          ("Session-Timeout", 5), ("Port-Error", 5), ("Admin-Reset", 5), ("NAS-Request", 5))
# Actions that close what began inside the period still run after it ends, so that no log
# line is left without its truth row; the others stop at the end.
_CLOSING = frozenset({"write", "nat-free", "nas-on", "expire"})

Action = tuple[int, int, str, int, int, str]  # (time, seq, action, index, token, text)


def generated_mac(index: int) -> str:
    """The router MAC of generated subscriber `index`: locally administered (02:...)."""
    return "02:" + ":".join(f"{b:02x}" for b in (index + 1).to_bytes(5, "big"))


def generated_username(index: int) -> str:
    return Subscriber(index, "", 0, "", "").user


class _Sim:
    def __init__(self, out_dir: Path, subscribers: int, start: datetime, end: int,
                 cgnat_ratio: float, seed: int, tz: ZoneInfo, interim: int,
                 reserved: frozenset[str] = frozenset()) -> None:
        self.rng = random.Random(seed)
        self.tz, self.end, self.interim_every = tz, end, interim
        self.files = Files(out_dir)
        self.files.header["dhcp"] = ("# The format of this file is documented in the "
                                     "dhcpd.leases(5) manual page.\n"
                                     "# This lease file was written by isc-dhcp-4.4.3\n\n")
        self.truth = Truth(out_dir / "truth.csv")
        self.queue: list[Action] = []
        self.seq = 0
        self.sessions = self.refused = self.overflow = self.nas_seq = 0
        nas_count = min(8, 2 + subscribers // 2000)
        self.nas_ips = [f"192.0.2.{n + 1}" for n in range(nas_count)]
        # Addresses assigned statically elsewhere (business customers) are never in a dynamic
        # pool, as on a real network: otherwise two holders would be on record at once.
        public = [a for a in hosts("198.51.100.0/24") if a not in reserved]
        self.pools = [Pool(public[n::nas_count]) for n in range(nas_count)]
        self.dhcp_pool = Pool([a for a in hosts("203.0.113.0/24") if a not in reserved])
        # 192.0.2.1-63 are the ISP's own devices; the rest is shared by CGNAT port blocks,
        # 256 ports on even addresses and 512 on odd ones, as two service sets would do.
        blocks: list[str] = []
        for host in [h for h in hosts("192.0.2.64/26") + hosts("192.0.2.128/25")
                     if h not in reserved]:
            size = 256 if int(host.rsplit(".", 1)[1]) % 2 == 0 else 512
            blocks += [f"{host} {p} {p + size - 1}" for p in range(1024, 65536 - size + 1, size)]
        self.rng.shuffle(blocks)  # spread subscribers over the shared addresses
        self.blocks = Pool(blocks)
        self.subs: list[Subscriber] = []
        base = int(start.timestamp())
        for index in range(subscribers):
            roll = self.rng.random()
            kind = "cgnat" if roll < cgnat_ratio else (
                "dhcp" if self.rng.random() < 0.3 else "radius")
            mac = generated_mac(index)
            prefix = ""
            if kind != "dhcp" and self.rng.random() < 0.4:
                prefix = str(ipaddress.IPv6Network(((0x20010DB8 << 96) | (index << 72), 56)))
            sub = Subscriber(index, kind, index % nas_count, mac, prefix)
            self.subs.append(sub)
            self.push(base + self.rng.randrange(4 * 3600), "connect", index, 0)
        for nas in range(nas_count):
            for day in range((end - base) // 86400 + 1):
                if self.rng.random() < 0.25:
                    self.push(base + day * 86400 + self.rng.randrange(86400), "nas-reboot",
                              nas, 0)

    def push(self, at: int, action: str, index: int, token: int, text: str = "") -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, action, index, token, text))

    def day(self, at: int) -> str:
        return f"{local(at, self.tz):%Y%m%d}"

    def run(self, on_progress: Callable[[float], None] | None, base: int) -> None:
        steps = 0
        while self.queue:
            at, _, action, index, token, text = heapq.heappop(self.queue)
            steps += 1
            if on_progress is not None and steps % 20000 == 0:
                on_progress(min(1.0, (at - base) / (self.end - base)))
            if at >= self.end and action not in _CLOSING:
                continue
            if action == "write":
                nas = self.nas_ips[index]
                self.files.write(f"radius:{nas}", f"radacct/{nas}/detail-{self.day(at)}", text)
            elif action in ("nas-reboot", "nas-on"):
                self.reboot(at, index) if action == "nas-reboot" else self.nas_on(at, index, text)
            elif action == "nat-free":
                self.nat_free(at, self.subs[index], text)
            elif token == self.subs[index].token:
                getattr(self, action.replace("-", "_"))(at, self.subs[index])
        for sub in self.subs:  # still holding when the period ends: no end is known
            if sub.online:
                self.close(sub, None)
            if sub.nat is not None:
                self.nat_truth(sub, sub.nat, None)
        self.files.close()
        self.truth.close()

    # --- RADIUS --------------------------------------------------------------------------

    def radius(self, at: int, sub: Subscriber, status: str, extra: list[tuple[str, str]]) -> None:
        # Most NASes send at once; some records wait in a retransmit queue first.
        delay = self.rng.randrange(1, 90) if self.rng.random() < 0.1 else 0
        unique = hashlib.sha256(f"{sub.nas}/{sub.session_id}".encode()).hexdigest()[:16]
        attrs = [("Acct-Session-Id", f'"{sub.session_id}"'),
                 ("Acct-Unique-Session-Id", f'"{unique}"'),
                 ("Acct-Status-Type", status), ("User-Name", f'"{sub.user}"'),
                 ("NAS-IP-Address", self.nas_ips[sub.nas]), ("NAS-Port", str(sub.index % 4096)),
                 ("NAS-Port-Type", "Ethernet"), ("Service-Type", "Framed-User"),
                 ("Framed-Protocol", "PPP"), ("Framed-IP-Address", sub.address)]
        if sub.prefix:
            attrs.append(("Delegated-IPv6-Prefix", sub.prefix))
        attrs += [("Calling-Station-Id", f'"{sub.mac}"'), *extra,
                  ("Event-Timestamp", str(at)), ("Acct-Delay-Time", str(delay)),
                  ("Timestamp", str(at + delay))]
        self.push(at + delay, "write", sub.nas, 0, radius_record(at + delay, self.tz, attrs))

    def traffic(self, at: int, sub: Subscriber) -> list[tuple[str, str]]:
        seconds = at - sub.started
        sub.octets = (seconds * sub.rate // 5, seconds * sub.rate)  # download-heavy
        return [("Acct-Session-Time", str(seconds)), *counters(*sub.octets)]

    def connect(self, at: int, sub: Subscriber) -> None:
        sub.token += 1
        if sub.kind == "dhcp":
            self.grant(at, sub)
            return
        address = None if sub.kind == "cgnat" else self.pools[sub.nas].take()
        # A public pool running dry puts the session behind CGNAT, as ISPs short of IPv4 do.
        sub.natted = address is None
        if address is None:
            address = str(ipaddress.IPv4Address("100.64.0.1") + sub.index)
            self.overflow += sub.kind == "radius"
        self.sessions += 1
        self.nas_seq += 1
        sub.online, sub.address, sub.since, sub.started = True, address, at, at
        sub.session_id = f"{self.nas_seq:08X}"
        sub.rate = self.rng.choice((20_000, 200_000, 2_000_000, 12_000_000))
        self.radius(at, sub, "Start", [])
        self.push(at + self.interim_every, "interim", sub.index, sub.token)
        self.push(at + self.rng.randrange(3600, 14 * 3600), "disconnect", sub.index, sub.token)
        if sub.natted:
            self.push(at + self.rng.randrange(1, 20), "nat-alloc", sub.index, sub.token)

    def interim(self, at: int, sub: Subscriber) -> None:
        if not sub.online:
            return
        if not sub.natted and self.rng.random() < 0.02:
            # A re-authentication moved the session to another address of the pool.
            new = self.pools[sub.nas].take()
            if new is not None:
                self.close(sub, at, session_over=False)
                self.pools[sub.nas].give(sub.address)
                sub.address, sub.since = new, at
        self.radius(at, sub, "Interim-Update", self.traffic(at, sub))
        self.push(at + self.interim_every, "interim", sub.index, sub.token)

    def disconnect(self, at: int, sub: Subscriber) -> None:
        if not sub.online:
            return
        if sub.kind == "dhcp":
            self.unlease(at, sub)
            return
        cause = self.rng.choices([c for c, _ in CAUSES], [w for _, w in CAUSES])[0]
        self.radius(at, sub, "Stop", [*self.traffic(at, sub), ("Acct-Terminate-Cause", cause)])
        self.end_session(at, sub, NAT_IDLE_SECONDS // 10)
        self.push(at + self.rng.randrange(60, 8 * 3600), "connect", sub.index, sub.token)

    def end_session(self, at: int, sub: Subscriber, nat_delay: int) -> None:
        self.close(sub, at)
        sub.online = False
        if sub.kind == "radius" and not sub.natted:
            self.pools[sub.nas].give(sub.address)
        if sub.nat is not None:
            self.push(at + nat_delay, "nat-free", sub.index, 0, " ".join(map(str, sub.nat)))
            sub.nat = None

    def close(self, sub: Subscriber, end: int | None, *, session_over: bool = True) -> None:
        source, kind, value = (("dhcp", "mac", sub.mac) if sub.kind == "dhcp"
                               else ("radius", "username", sub.user))
        self.truth.row(sub.ident, source, kind, value, sub.address, sub.since, end)
        if sub.prefix and session_over:
            # The prefix is held for the whole session, across IPv4 address changes.
            self.truth.row(sub.ident, "radius", "username", sub.user, sub.prefix,
                           sub.started, end)

    def reboot(self, at: int, nas: int) -> None:
        # Sessions die with no Stop; their end is only written by the Accounting-On at boot.
        down = [s for s in self.subs if s.nas == nas and s.online and s.kind != "dhcp"]
        for sub in down:
            sub.token += 1  # their pending interims and disconnects are void
        self.push(at + NAS_BOOT_SECONDS, "nas-on", nas, 0,
                  " ".join(str(s.index) for s in down))

    def nas_on(self, at: int, nas: int, text: str) -> None:
        ip = self.nas_ips[nas]
        attrs = [("Acct-Status-Type", "Accounting-On"), ("NAS-IP-Address", ip),
                 ("Acct-Session-Id", '"00000000"'), ("Acct-Terminate-Cause", "NAS-Reboot"),
                 ("Event-Timestamp", str(at)), ("Timestamp", str(at))]
        self.files.write(f"radius:{ip}", f"radacct/{ip}/detail-{self.day(at)}",
                         radius_record(at, self.tz, attrs))
        for index in map(int, text.split()):
            sub = self.subs[index]
            self.end_session(at, sub, NAT_IDLE_SECONDS - NAS_BOOT_SECONDS)
            self.push(at + self.rng.randrange(5, 600), "connect", index, sub.token)

    # --- CGNAT ---------------------------------------------------------------------------

    def nat_alloc(self, at: int, sub: Subscriber) -> None:
        block = self.blocks.take() if sub.online else None
        if block is None:
            return
        public, first, last = block.split()
        sub.nat = (public, int(first), int(last), at)
        self.nat_line(at, "ALLOC", sub, sub.nat)

    def nat_line(self, at: int, what: str, sub: Subscriber, nat: tuple[str, int, int, int]) -> None:
        public, first, last, allocated = nat
        inside = str(ipaddress.IPv4Address("100.64.0.1") + sub.index)
        sset = "sset2" if last - first == 255 else "sset3"
        self.files.write("nat", f"cgnat/{NAT_HOST}/messages-{self.day(at)}",
                         juniper_line(at, self.tz, NAT_HOST, what, inside, public, first, last,
                                      allocated, sset))

    def nat_free(self, at: int, sub: Subscriber, text: str) -> None:
        public, first, last, allocated = text.split()
        nat = (public, int(first), int(last), int(allocated))
        self.nat_line(at, "RELEASE", sub, nat)
        self.blocks.give(f"{public} {first} {last}")
        self.nat_truth(sub, nat, at)

    def nat_truth(self, sub: Subscriber, nat: tuple[str, int, int, int], end: int | None) -> None:
        inside = str(ipaddress.IPv4Address("100.64.0.1") + sub.index)
        self.truth.row(sub.ident, "nat", "username", sub.user, nat[0], nat[3], end,
                       inside=inside, first=nat[1], last=nat[2])

    # --- DHCP ----------------------------------------------------------------------------

    def lease(self, at: int, sub: Subscriber, starts: int, ends: int, state: str) -> None:
        self.files.write("dhcp", f"dhcpd/{DHCP_SERVER}/dhcpd.leases-{self.day(at)}",
                         lease_block(sub.address, starts=starts, ends=ends, written=at,
                                     state=state, mac=sub.mac,
                                     circuit=f"olt1.example.net xpon 0/1/{sub.index % 16}:"
                                             f"{sub.index}",
                                     remote=f"acct{sub.ident}", hostname=f"cpe-{sub.ident}"))

    def grant(self, at: int, sub: Subscriber) -> None:
        # dhcpd offers a returning client its previous address when it is still free.
        address = self.dhcp_pool.take(prefer=sub.address)
        if address is None:
            self.refused += 1
            self.push(at + self.rng.randrange(60, 1800), "connect", sub.index, sub.token)
            return
        self.sessions += 1
        sub.online, sub.address, sub.since, sub.started = True, address, at, at
        self.lease(at, sub, at, at + LEASE_SECONDS, "active")
        self.push(at + LEASE_SECONDS // 2, "renew", sub.index, sub.token)
        self.push(at + self.rng.randrange(3600, 14 * 3600), "disconnect", sub.index, sub.token)

    def renew(self, at: int, sub: Subscriber) -> None:
        if not sub.online:
            return
        sub.started = at  # dhcpd writes a renewed lease as starting at the renewal
        self.lease(at, sub, at, at + LEASE_SECONDS, "active")
        self.push(at + LEASE_SECONDS // 2, "renew", sub.index, sub.token)

    def unlease(self, at: int, sub: Subscriber) -> None:
        sub.online = False
        if self.rng.random() < 0.6:  # a DHCPRELEASE; the rest just go away
            self.expire(at, sub)
        else:
            self.push(sub.started + LEASE_SECONDS, "expire", sub.index, sub.token)

    def expire(self, at: int, sub: Subscriber) -> None:
        self.lease(at, sub, sub.started, at, "free")
        self.close(sub, at)
        self.dhcp_pool.give(sub.address)
        self.push(at + self.rng.randrange(60, 8 * 3600), "connect", sub.index, sub.token)


def generate(out_dir: Path, *, subscribers: int, days: int, start: date, cgnat_ratio: float,
             seed: int, zone: str = "America/Chicago", interim_minutes: int = 15,
             on_progress: Callable[[float], None] | None = None,
             reserved: frozenset[str] = frozenset()) -> GeneratedSet:
    """Write the logs of `days` local days from `start` under `out_dir`, and truth.csv."""
    if subscribers < 1 or days < 1 or not 0 <= cgnat_ratio <= 1 or interim_minutes < 1:
        raise ValueError("subscribers and days must be >= 1, cgnat_ratio within [0, 1]")
    began = time.perf_counter()
    tz = ZoneInfo(zone)
    first = datetime(start.year, start.month, start.day, tzinfo=tz)
    last = datetime.combine(start + timedelta(days=days), first.timetz())
    out_dir.mkdir(parents=True, exist_ok=True)
    sim = _Sim(out_dir, subscribers, first, int(last.timestamp()), cgnat_ratio, seed, tz,
               interim_minutes * 60, reserved)
    sim.run(on_progress, int(first.timestamp()))
    if on_progress is not None:
        on_progress(1.0)
    files = tuple(sorted((str(p.relative_to(out_dir)), lines, size)
                         for p, (lines, size) in sim.files.written.items()))
    return GeneratedSet(out_dir, files, out_dir / "truth.csv", sim.truth.rows, subscribers,
                        sim.sessions, sim.refused, sim.overflow, time.perf_counter() - began)
