"""Speed-test results under the retention policy: measured before the cutoff, they go.

`retention.speed_tests` in the policy is how many days a result is kept after it was measured.
A result outlives that only under a legal hold in force that reaches its subscriber: the hold's
identifier was linked to the subscriber (`IdentityLink`, for some time within the hold's range)
and the result was measured within that range. Holds name network identities, not accounts,
so the identity links are what lead from one to the other, as attribution uses them.

Lines an import quarantined hold raw input (accounts, addresses), so those of files imported
before the cutoff go too. A file's record (its hash and counts) stays: importing the same file
again then adds nothing, rather than bringing expired results back.

The purge is a `purge` of `service_quality` through the gate (its own decision and audit
entry), one transaction with the deletions and the entry saying what went.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q

from cpniguard.access import Actor, access, record_event
from cpniguard.audit.models import Outcome
from cpniguard.connectivity.models import IdentityLink
from cpniguard.policy import Action, Policy
from cpniguard.quality.models import SpeedTest, SpeedTestQuarantine
from cpniguard.retention.holds import HoldKind, normalize_mac
from cpniguard.retention.models import LegalHold
from cpniguard.retention.sources import NoRetentionRule

KEY = "speed_tests"
RESOURCE = "quality:speedtests"
EVENT = "quality:speedtests:expired"  # the decision itself is ...:purge
CATEGORIES = frozenset({"service_quality"})


@dataclass
class SpeedTestPlan:
    days: int
    cutoff: datetime
    removed: int              # results that go
    kept: int                 # expired results a hold keeps
    lines: int                # quarantined lines that go
    holds: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"retention_key": KEY, "days": self.days, "cutoff": self.cutoff.isoformat(),
                "removed": self.removed, "kept": self.kept, "quarantined_lines": self.lines,
                "holds": self.holds}


def _links_of(hold: LegalHold) -> Q:
    """The identity links a hold reaches, valid at some instant of its range."""
    during = Q(valid_from__lt=hold.ends) & (Q(valid_to__isnull=True)
                                             | Q(valid_to__gt=hold.starts))
    if hold.kind == HoldKind.ADDRESS:
        wanted = ipaddress.ip_network(hold.identifier, strict=False)
        ids = [link.pk for link in IdentityLink.objects.filter(
                   during, kind=IdentityLink.Kind.STATIC_IP)
               if ipaddress.ip_network(link.value, strict=False).version == wanted.version
               and ipaddress.ip_network(link.value, strict=False).overlaps(wanted)]
        return Q(pk__in=ids)
    value = normalize_mac(hold.identifier) if hold.kind == HoldKind.MAC else hold.identifier
    return during & Q(kind=hold.kind, value__iexact=value)


def held(holds: list[LegalHold]) -> tuple[Q, list[int]]:
    """(the results the holds keep, the holds that keep any subscriber's results)."""
    kept, used = Q(pk__in=[]), []
    for hold in holds:
        subscribers = set(IdentityLink.objects.filter(_links_of(hold))
                          .values_list("subscriber_id", flat=True))
        if subscribers:
            used.append(hold.pk)
            kept |= Q(subscriber_id__in=subscribers, measured_at__gte=hold.starts,
                      measured_at__lt=hold.ends)
    return kept, used


def plan(policy: Policy, now: datetime) -> tuple[SpeedTestPlan, Q] | None:
    """What a run as of `now` deletes; None when no result or quarantined line is stored.
    Raises NoRetentionRule when there are some and the policy gives them no period."""
    if not SpeedTest.objects.exists() and not SpeedTestQuarantine.objects.exists():
        return None
    if KEY not in policy.retention:
        raise NoRetentionRule(f"speed-test results need retention.{KEY} in the policy "
                              f"{policy.source}")
    days = policy.retention[KEY]
    cutoff = now - timedelta(days=days)
    holds = list(LegalHold.objects.filter(released__isnull=True, expires__gt=now))
    keep, used = held(holds)
    expired = SpeedTest.objects.filter(measured_at__lt=cutoff)
    kept = expired.filter(keep).count()
    result = SpeedTestPlan(
        days=days, cutoff=cutoff, removed=expired.count() - kept, kept=kept,
        lines=SpeedTestQuarantine.objects.filter(file__imported__lt=cutoff).count(),
        holds=sorted(used) if kept else [])
    return result, keep


def expire(actor: Actor, policy: Policy, now: datetime, *, dry_run: bool
           ) -> SpeedTestPlan | None:
    """Plan (and unless `dry_run`, carry out) the expiry of speed-test results as of `now`.

    Raises AccessRefused (audited) when the actor may not purge them."""
    found = plan(policy, now)
    if found is None:
        return None
    result, keep = found
    # The gate runs the body in one transaction with its entry; a refusal is written apart.
    with access(
            actor, Action.PURGE, resource=RESOURCE, purpose="retention", reference=None,
            subject="retention:speed-tests:dry-run" if dry_run else "retention:speed-tests",
            categories=CATEGORIES) as permit:
        permit.touched(["speed_test.measured_at"])
        if dry_run:
            return result
        cutoff = result.cutoff
        removed, _ = SpeedTest.objects.filter(measured_at__lt=cutoff).exclude(keep).delete()
        lines, _ = SpeedTestQuarantine.objects.filter(file__imported__lt=cutoff).delete()
        result.removed, result.lines = removed, lines
        record_event(actor, EVENT, Outcome.SUCCEEDED, subject="speed-tests",
                     reason=f"{KEY} older than {result.days} days: removed {removed} results "
                            f"and {lines} quarantined lines, kept {result.kept} under holds "
                            f"{', '.join(map(str, result.holds)) or 'none'}")
    return result
