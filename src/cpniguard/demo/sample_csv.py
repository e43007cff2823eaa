"""Demo customers as an import file: the CSV layout of `cpniguard subscribers import`.

The rows come from the same seeded generator as the demo database, so a sample file is as
believable (and as fictional) as the demo itself. The import benchmark uses it, and anyone
trying the importer can write one with `write_sample_csv`.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

from django.db import models

from cpniguard.demo.seed import Generator
from cpniguard.subscribers.csv_rows import ADDRESS_PARTS, COLUMNS
from cpniguard.subscribers.models import (
    Address,
    BillingInfo,
    Email,
    Equipment,
    Phone,
    Service,
    Subscriber,
)

# Interactions are not part of an import; the generator still needs staff names for them.
STAFF = {"support": ["support1"], "billing": ["billing1"], "noc": ["noc1"]}


def _address(cells: dict[str, str], prefix: str, address: Address) -> None:
    for part in ADDRESS_PARTS:
        cells[f"{prefix}_{part}"] = getattr(address, part)


def to_row(subscriber: Subscriber, children: list[models.Model]) -> dict[str, str]:
    """One subscriber and its records as the cells of one CSV row."""
    cells = dict.fromkeys(COLUMNS, "")
    cells.update(account_number=subscriber.account_number, status=subscriber.status,
                 kind=subscriber.kind, first_name=subscriber.first_name,
                 last_name=subscriber.last_name, business_name=subscriber.business_name,
                 service_started=subscriber.service_started.isoformat())
    addresses = {a.kind: a for a in children if isinstance(a, Address)}
    _address(cells, "service", addresses["service"])
    billing = addresses["billing"]
    if (billing.line1, billing.city) != (addresses["service"].line1, addresses["service"].city):
        _address(cells, "billing", billing)  # left empty when bills go to the service address
    cells["phone"] = ";".join(p.number for p in children if isinstance(p, Phone))
    cells["email"] = ";".join(e.address for e in children if isinstance(e, Email))
    for child in children:
        if isinstance(child, BillingInfo):
            cells.update(payment_method=child.method, processor=child.processor,
                         processor_token=child.processor_token, card_last4=child.last4)
        elif isinstance(child, Service) and child.kind == Service.Kind.BROADBAND:
            cells.update(plan=child.plan, down_mbps=str(child.down_mbps or ""),
                         up_mbps=str(child.up_mbps or ""))
        elif isinstance(child, Service) and child.kind == Service.Kind.VOIP:
            cells["voip_number"] = child.voip_number
        elif isinstance(child, Service) and child.kind == Service.Kind.STATIC_IP:
            cells["static_ip"] = child.static_ip or ""
        elif isinstance(child, Equipment) and child.kind == Equipment.Kind.ROUTER:
            cells.update(router_model=child.model, router_serial=child.serial,
                         router_mac=child.mac)
    return cells


def sample_rows(count: int, seed: int, today: date | None = None) -> list[dict[str, str]]:
    generator = Generator(seed, today or datetime.now(UTC).date(), STAFF)
    return [to_row(*generator.subscriber()) for _ in range(count)]


def write_sample_csv(path: Path, count: int, seed: int = 2026) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(sample_rows(count, seed))
    return path
