"""Keep identity links in step with the customer records they can be derived from.

Static addresses come from `static_ip` service rows (dated: started .. ended inclusive, as
calendar days in the ISP's zone, which the operator names: service dates carry no zone).
Router MACs come from equipment rows, valid from the subscriber's service start.

A derived link is never deleted: when its row goes away or changes, the link is closed at the
sync instant and a new one opened, so an old answer stays reproducible.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from cpniguard.connectivity.links import Kind, day_after, local_midnight
from cpniguard.connectivity.models import IdentityLink
from cpniguard.subscribers.models import Equipment, Service

Origin = IdentityLink.Origin


@dataclass(frozen=True, slots=True)
class Wanted:
    subscriber_id: int
    kind: str
    value: str
    valid_from: datetime
    valid_to: datetime | None


@dataclass
class SyncReport:
    opened: int = 0
    closed: int = 0
    updated: int = 0
    unchanged: int = 0


def _from_services(zone_name: str) -> dict[str, Wanted]:
    wanted = {}
    rows = Service.objects.filter(kind=Service.Kind.STATIC_IP, static_ip__isnull=False)
    for service in rows.order_by("pk"):
        network = ipaddress.ip_network(str(service.static_ip))
        end = None if service.ended is None else day_after(service.ended, zone_name)
        wanted[str(service.pk)] = Wanted(service.subscriber_id, Kind.STATIC_IP, str(network),
                                         local_midnight(service.started, zone_name), end)
    return wanted


def _from_equipment(zone_name: str) -> dict[str, Wanted]:
    wanted = {}
    for item in Equipment.objects.select_related("subscriber").order_by("pk"):
        wanted[str(item.pk)] = Wanted(item.subscriber_id, Kind.MAC, item.mac,
                                      local_midnight(item.subscriber.service_started, zone_name),
                                      None)
    return wanted


def _latest(origin: str) -> tuple[dict[str, IdentityLink], dict[str, datetime]]:
    """The newest link of each record, and when the one before it was closed (if any)."""
    latest: dict[str, IdentityLink] = {}
    floor: dict[str, datetime] = {}
    for link in IdentityLink.objects.filter(origin=origin).order_by("pk"):
        earlier = latest.get(link.origin_id)
        if earlier is not None and earlier.valid_to is not None:
            floor[link.origin_id] = earlier.valid_to
        latest[link.origin_id] = link  # later rows win
    return latest, floor


def _close(link: IdentityLink, now: datetime, report: SyncReport) -> None:
    if link.valid_to is None or link.valid_to > now:
        link.valid_to = max(now, link.valid_from + timedelta(microseconds=1))
        link.save(update_fields=["valid_to"])
        report.closed += 1


def _apply(origin: str, wanted: dict[str, Wanted], now: datetime, report: SyncReport) -> None:
    """Make the newest link of each record say what the record says.

    Same subscriber and value, other dates: the dates are corrected in place (the record is
    the authority on when a service ran). Another subscriber or value (a router handed to a
    new household): the old link is closed now and a new one opened now, because nobody
    recorded when the change really happened and guessing would move evidence.
    """
    latest, floor = _latest(origin)
    for origin_id, link in latest.items():
        want = wanted.pop(origin_id, None)
        if want is None:
            _close(link, now, report)  # the record is gone: it held until now, at most
            continue
        if origin_id in floor and want.valid_from < floor[origin_id]:
            # A handover was recorded at `floor`: the new holder's link never reaches back
            # before it, whatever the new holder's own service start says.
            want = replace(want, valid_from=floor[origin_id])
        if (link.subscriber_id, link.value) == (want.subscriber_id, want.value):
            if (link.valid_from, link.valid_to) == (want.valid_from, want.valid_to):
                report.unchanged += 1
                continue
            link.valid_from, link.valid_to = want.valid_from, want.valid_to
            link.save(update_fields=["valid_from", "valid_to"])
            report.updated += 1
            continue
        _close(link, now, report)
        start = max(want.valid_from, now)
        if want.valid_to is None or want.valid_to > start:
            _open(origin, origin_id, want, start, report)
    for origin_id, want in wanted.items():
        _open(origin, origin_id, want, want.valid_from, report)


def _open(origin: str, origin_id: str, want: Wanted, start: datetime,
          report: SyncReport) -> None:
    IdentityLink.objects.create(
        subscriber_id=want.subscriber_id, kind=want.kind, value=want.value, valid_from=start,
        valid_to=want.valid_to, origin=origin, origin_id=origin_id)
    report.opened += 1


def sync_derived_links(zone_name: str, now: datetime | None = None) -> SyncReport:
    """Bring static-IP and equipment-MAC links in line with the records, in one transaction."""
    moment = timezone.now() if now is None else now
    report = SyncReport()
    with transaction.atomic():
        _apply(Origin.SERVICES, _from_services(zone_name), moment, report)
        _apply(Origin.EQUIPMENT, _from_equipment(zone_name), moment, report)
    return report
