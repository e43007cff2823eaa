"""The demo's network facts and speed tests, so the NOC's pages look like a real ISP's.

- network.toml gains the generator's dynamic pools (PPPoE public addresses, the DHCP range)
  with their capacity, and two POPs, so the Network page shows pool utilisation, POP views
  and POP-level outages instead of "no pools declared".
- A speed-test feed (the documented CSV) for about half of the subscribers with logs: three
  tests each over the log days, most near their plan's speed, a handful of lines delivering
  well under it, so the health view has both verdicts to show. It is imported by the NOC's
  feed grant through the same `quality speedtest import` service, audited.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from cpniguard.access import Actor, Channel
from cpniguard.access.actor import new_request_id
from cpniguard.accounts.models import StaffUser
from cpniguard.connectivity.network import CONFIG_NAME
from cpniguard.home import home
from cpniguard.quality.speedtest_formats import CSV_COLUMNS
from cpniguard.quality.speedtests import import_file
from cpniguard.subscribers.models import Service, Subscriber

# The generator hands PPPoE sessions public addresses from 198.51.100.0/24 (interleaved
# between the NASes) and IPoE leases from 203.0.113.0/24; its NASes are 192.0.2.1 and up,
# its CGNAT box cgn1.example.net, and its DHCP server writes as "dhcpd-leases".
NETWORK_TABLES = """
[pools.pppoe-public]
networks = ["198.51.100.0/24"]
warn_at = 0.85

[pools.ipoe-dhcp]
networks = ["203.0.113.0/24"]
device = "dhcpd-leases"

[pops.millbrook]
devices = ["192.0.2.1", "cgn1.example.net"]

[pops.hartwell-center]
devices = ["192.0.2.2", "dhcpd-leases"]
"""
TESTS_EACH = 3
SLOW_LINES = 6           # subscribers whose line delivers well under the plan
SERVERS = ("speedtest1.example.net", "speedtest2.example.net")


@dataclass(frozen=True, slots=True)
class SpeedTestDemo:
    subscribers: int
    imported: int
    slow: list[str]      # account numbers of the slow lines, to look at in the health view


def declare_network(root: Path | None = None) -> Path:
    """Append the pools and POPs to the network.toml the connectivity demo wrote."""
    path = (root or home()) / CONFIG_NAME
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if "[pools." not in text:
        path.write_text(text.rstrip("\n") + "\n" + NETWORK_TABLES, encoding="utf-8")
    return path


def _noc_actor() -> Actor | None:
    user = StaffUser.objects.filter(role="noc", is_active=True).order_by("pk").first()
    return None if user is None else Actor.for_staff(user, Channel.CLI, new_request_id())


def _rows(picks: list[Subscriber], first_day: date, days: int, seed: int
          ) -> tuple[list[list[str]], list[str]]:
    rng = random.Random(seed)
    plans = {s.subscriber_id: s for s in Service.objects.filter(
        subscriber__in=picks, kind=Service.Kind.BROADBAND, down_mbps__isnull=False)}
    tested = [p for p in picks if p.pk in plans and rng.random() < 0.5]
    slow = {p.pk for p in rng.sample(tested, min(SLOW_LINES, len(tested)))}
    rows: list[list[str]] = []
    for subscriber in tested:
        plan = plans[subscriber.pk]
        for n in range(TESTS_EACH):
            day = first_day + timedelta(days=(n * days) // TESTS_EACH)
            moment = datetime.combine(day, time(rng.randrange(7, 22), rng.randrange(60)),
                                      tzinfo=UTC)
            share = rng.uniform(0.28, 0.45) if subscriber.pk in slow else rng.uniform(0.82, 1.02)
            up = (plan.up_mbps or 0) * min(1.0, share + rng.uniform(0.0, 0.1))
            rows.append([subscriber.account_number, moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                         f"{(plan.down_mbps or 0) * share:.1f}", f"{up:.1f}",
                         f"{rng.uniform(6, 28) * (2 if subscriber.pk in slow else 1):.1f}",
                         rng.choice(SERVERS), "customer-portal"])
    accounts = sorted(p.account_number for p in tested if p.pk in slow)
    return rows, accounts


def seed_speed_tests(picks: list[Subscriber], first_day: date, days: int, seed: int,
                     out: Path) -> SpeedTestDemo:
    """Write the feed's CSV under `out` and import it as the NOC's feed would."""
    actor = _noc_actor()
    rows, slow = _rows(picks, first_day, days, seed)
    if actor is None or not rows:
        return SpeedTestDemo(0, 0, [])
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"speedtests-{first_day.isoformat()}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)
    result = import_file(actor, path, "csv", purpose="network_quality")
    return SpeedTestDemo(len({r[0] for r in rows}), result.imported, slow)
