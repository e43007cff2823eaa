"""The demo's connectivity logs: generated in the real formats, ingested by the real parsers.

A few hundred of the demo's subscribers get a router, a RADIUS username and a few days of
RADIUS accounting, DHCP leases and CGNAT port-block logs ending yesterday. The identities
the generator gave them are linked to them the way an ISP's provisioning would: the router's
MAC in the equipment records (then derived into links), the username as a provisioning link.
Static business addresses are kept out of the dynamic pools, as on a real network.

Nothing here shortcuts the pipeline: the files land under $CPNIGUARD_HOME/demo-logs and go
through `ingest_file` like any operator's file, so they can be re-ingested, quarantined and
purged by retention like real logs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from django.db import transaction

from cpniguard.connectivity.generator import generate, generated_mac, generated_username
from cpniguard.connectivity.ingest import ingest_file
from cpniguard.connectivity.links import Kind, local_midnight
from cpniguard.connectivity.links_sync import sync_derived_links
from cpniguard.connectivity.models import IdentityLink
from cpniguard.connectivity.network import write_config
from cpniguard.connectivity.store_config import configured_store
from cpniguard.home import home
from cpniguard.subscribers.models import Equipment, Service, Subscriber

DEMO_ZONE = "America/New_York"  # the demo ISP's routers log local (Vermont) time
LOG_SUBSCRIBERS = 400
LOG_DAYS = 3
CGNAT_RATIO = 0.3
# The generator's CGNAT port blocks are on these public ranges (see connectivity/generator.py).
CGNAT_PUBLIC_POOLS = ("192.0.2.64/26", "192.0.2.128/25")
INTERIM_MINUTES = 60  # a common NAS setting; the generator's 15 would quadruple the lines
# Generated tree: <kind>/<device>/<file>; the kind names the format.
FORMAT_OF = {"radacct": "radius-detail", "dhcpd": "dhcpd-leases", "cgnat": "juniper-nat"}
_DAY_SUFFIX = re.compile(r"-(\d{8})$")


@dataclass
class ConnectivityResult:
    subscribers: int
    files: int = 0
    lines: int = 0
    intervals: int = 0
    quarantined: int = 0
    links: int = 0
    log_dir: Path = field(default_factory=Path)


def _picks(count: int) -> list[Subscriber]:
    """Active subscribers without a static address: theirs come from the dynamic pools."""
    static = Service.objects.filter(kind=Service.Kind.STATIC_IP).values("subscriber_id")
    chosen = (Subscriber.objects.filter(status=Subscriber.Status.ACTIVE)
              .exclude(pk__in=static).order_by("pk"))
    return list(chosen[:count])


def _provision(picks: list[Subscriber]) -> int:
    """Give pick i the generated router and username of generated subscriber i."""
    links = []
    with transaction.atomic():
        for index, subscriber in enumerate(picks):
            mac = generated_mac(index)
            router = subscriber.equipment.filter(kind=Equipment.Kind.ROUTER).first()
            if router is None:
                Equipment.objects.create(subscriber=subscriber, kind=Equipment.Kind.ROUTER,
                                         model="EX-AX1800", serial=f"EXR{index:07d}", mac=mac)
            elif router.mac != mac:
                router.mac = mac
                router.save(update_fields=["mac"])
            link = IdentityLink(
                subscriber=subscriber, kind=Kind.USERNAME, value=generated_username(index),
                valid_from=local_midnight(subscriber.service_started, DEMO_ZONE))
            if not IdentityLink.objects.filter(subscriber=subscriber, kind=link.kind,
                                               value=link.value).exists():
                links.append(link)
        IdentityLink.objects.bulk_create(links)
        derived = sync_derived_links(DEMO_ZONE)
    return len(links) + derived.opened


def _year(path: Path) -> int | None:
    found = _DAY_SUFFIX.search(path.name)
    return int(found.group(1)[:4]) if found else None


def seed_connectivity(today: date, seed: int, *, subscribers: int = LOG_SUBSCRIBERS,
                      days: int = LOG_DAYS,
                      progress: Callable[[str], None] | None = None) -> ConnectivityResult:
    """Generate `days` days of logs ending yesterday for up to `subscribers`, and ingest them."""
    picks = _picks(subscribers)
    result = ConnectivityResult(len(picks))
    if not picks:
        return result
    start = today - timedelta(days=days)
    reserved = frozenset(str(ip) for ip in Service.objects.filter(
        kind=Service.Kind.STATIC_IP, static_ip__isnull=False).values_list("static_ip",
                                                                          flat=True))
    out = home() / "demo-logs" / f"{start.isoformat()}-seed{seed}"
    if (out / "truth.csv").is_file():
        # Generated before: the generator appends to day files, so it must not run twice
        # into one directory; the ingest recognises the files it already has.
        files = sorted(str(p.relative_to(out)) for p in out.glob("*/*/*") if p.is_file())
    else:
        generated = generate(out, subscribers=len(picks), days=days, start=start,
                             cgnat_ratio=CGNAT_RATIO, seed=seed, zone=DEMO_ZONE,
                             reserved=reserved, interim_minutes=INTERIM_MINUTES)
        files = [name for name, _lines, _size in generated.files]
    result.log_dir = out
    result.links = _provision(picks)
    write_config(list(CGNAT_PUBLIC_POOLS))
    # The store every other command uses (--store's setting: CPNIGUARD_LOGSTORE, else the
    # home's own), opened once for all the files.
    store = configured_store()
    for relative in files:
        path = out / relative
        if progress is not None:
            progress(relative)
        ingested = ingest_file(path, FORMAT_OF[Path(relative).parts[0]], DEMO_ZONE, store,
                               year=_year(path))
        result.files += 1
        result.lines += ingested.lines
        result.intervals += ingested.intervals
        result.quarantined += ingested.quarantined
    return result
