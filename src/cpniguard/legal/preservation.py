"""Preservation under 18 U.S.C. 2703(f): legal holds on a letter's identifiers and dates.

    preserve(actor, "LR-2026-0007")   # holds placed, expiring after preserve_days (90)
    renew(actor, "LR-2026-0007")      # once more for preserve_days, as often as `renewals`

When holds are placed is the policy's: with `preserve_on_intake = true` (the shipped
policy, see its comment) they are placed when the letter is taken in, as long as it has no
error finding; otherwise once it is approved. Nothing is disclosed either way.

What is held, target by target, over the letter's date range:
- an IP target: its address (a port block's inside address is kept with it, see
  retention/holds.py);
- a subscriber target found exactly as given (`queries.find_subscribers`): every identity
  linked to that subscriber during the range (username, MAC, client-id, DUID, circuit and
  remote id; a static address as an address), for the part of the range the link was valid;
- anything else (no record, two records, no identity linked) holds nothing, and says why.

Each hold is placed through `retention.hold_service` (the gate's `hold` action under the
case number, audited); the identity links are read through the gate too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from cpniguard.access import AccessRefused, Actor, access
from cpniguard.connectivity.models import IdentityLink
from cpniguard.legal.desk import outcomes, present
from cpniguard.legal.models import LegalRequest, Preservation, Target
from cpniguard.legal.queries import LOOKUP_CATEGORIES, find_subscribers
from cpniguard.legal.status import BadTransition, Status
from cpniguard.legal.workflow import _move, _step
from cpniguard.policy import Action, current_policy
from cpniguard.policy.legal_process import LegalProcessKind
from cpniguard.retention import hold_service
from cpniguard.retention.holds import InvalidHold
from cpniguard.retention.models import LegalHold

Hold = tuple[str, str, datetime, datetime]  # kind, identifier, starts, ends


def _kind_of(request: LegalRequest) -> LegalProcessKind | None:
    kind = current_policy().legal_process.get(request.kind)
    return kind if kind is not None and kind.preserve_days else None


def _rules(request: LegalRequest) -> tuple[LegalProcessKind, int]:
    kind = _kind_of(request)
    if kind is None or kind.preserve_days is None:
        raise BadTransition(f"{request.reference} is not a kind of process that preserves")
    return kind, kind.preserve_days


def _linked(actor: Actor, reference: str, subscriber: int, starts: datetime,
            ends: datetime) -> list[Hold]:
    with access(actor, Action.READ, resource="connectivity:identity_link",
                purpose="legal_process", reference=reference, subject=f"subscriber:{subscriber}",
                categories={"connectivity_logs"}) as permit:
        links = list(IdentityLink.objects.filter(
            Q(valid_to__isnull=True) | Q(valid_to__gt=starts), subscriber_id=subscriber,
            valid_from__lt=ends))
        permit.touched(["identity_link.kind", "identity_link.value", "identity_link.valid"])
    holds = []
    for link in links:
        low = max(starts, link.valid_from)
        high = min(ends, link.valid_to) if link.valid_to else ends
        kind = "address" if link.kind == IdentityLink.Kind.STATIC_IP else link.kind
        holds.append((kind, link.value, low, high))
    return holds


def _holds_for(actor: Actor, request: LegalRequest, target: Target, starts: datetime,
               ends: datetime) -> tuple[list[Hold], str]:
    if not target.readable or not target.value:
        return [], "the target could not be read"
    if target.kind == "ip":
        return [("address", str(target.address), starts, ends)], ""
    if target.kind not in LOOKUP_CATEGORIES:
        return [], f"a {target.kind} target cannot be held"
    ids = find_subscribers(actor, request.reference, target)
    if len(ids) != 1:
        return [], "no records" if not ids else f"{len(ids)} records answer it exactly"
    holds = _linked(actor, request.reference, ids[0], starts, ends)
    return holds, "" if holds else "no network identity was linked to it in the date range"


def _problem(request: LegalRequest, kind: LegalProcessKind | None, *, renewing: bool
             ) -> str | None:
    if kind is None:
        return f"{request.reference} is not a kind of process that preserves records"
    if renewing:
        done = Preservation.objects.filter(request=request).first()
        if done is None:
            return f"{request.reference} has no preservation to renew"
        if done.renewals >= kind.renewals:
            return (f"the preservation of {request.reference} was already renewed "
                    f"{done.renewals} time(s); the policy allows {kind.renewals}")
        return None
    if Preservation.objects.filter(request=request).exists():
        return f"{request.reference} is already preserved; renew it instead"
    allowed = {Status.APPROVED} | ({Status.RECEIVED, Status.VALIDATING}
                                  if kind.preserve_on_intake else set())
    if Status(request.status) not in allowed:
        return (f"a {kind.label.lower()} is preserved once "
                f"{'taken in' if kind.preserve_on_intake else 'approved'}; "
                f"{request.reference} is {request.status}")
    if request.findings.filter(severity="error").exists():
        return f"{request.reference} has error findings: correct or reject it first"
    if request.date_from is None or request.date_to is None:
        return f"{request.reference} names no date range to preserve"
    return None


def preserve(actor: Actor, reference: str) -> dict[str, Any]:
    def precheck(request: LegalRequest) -> str | None:
        return _problem(request, _kind_of(request), renewing=False)

    def work(request: LegalRequest) -> None:
        kind, days = _rules(request)
        starts, ends = request.date_from, request.date_to
        if starts is None or ends is None:
            raise BadTransition(f"{reference} names no date range to preserve")
        now = timezone.now()
        expires = now + timedelta(days=days)
        placed, unheld = [], []
        for target in request.targets.all():
            holds, why = _holds_for(actor, request, target, starts, ends)
            if why:
                unheld.append({"target": target.position + 1, "why": why})
            for which, identifier, starts, ends in holds:
                placed.append(hold_service.create_hold(
                    actor, identifier=identifier, kind=which, starts=starts, ends=ends,
                    expires=expires, reference=reference).id)
        Preservation.objects.create(request=request, holds=placed, unheld=unheld,
                                    placed_by=actor.username, placed=now, expires=expires)
        _move(request, actor, Status(request.status),
              f"preserved under {kind.statute}: {len(placed)} legal hold(s) until "
              f"{expires.astimezone(UTC).date().isoformat()}; {len(unheld)} target(s) "
              "hold nothing")

    _step(actor, Action.CHANGE, reference, precheck, work, ("legal_request.preservation",))
    return preservation_view(reference)


def renew(actor: Actor, reference: str) -> dict[str, Any]:
    def precheck(request: LegalRequest) -> str | None:
        return _problem(request, _kind_of(request), renewing=True)

    def work(request: LegalRequest) -> None:
        kind, days = _rules(request)
        done = Preservation.objects.select_for_update().get(request=request)
        expires = max(done.expires, timezone.now()) + timedelta(days=days)
        for hold in LegalHold.objects.filter(pk__in=done.holds, released__isnull=True):
            hold_service.renew_hold(actor, hold.pk, expires=expires, reference=reference)
        done.expires, done.renewals = expires, done.renewals + 1
        done.save(update_fields=["expires", "renewals"])
        _move(request, actor, Status(request.status),
              f"preservation renewed ({done.renewals} of {kind.renewals}) until "
              f"{expires.astimezone(UTC).date().isoformat()}")

    _step(actor, Action.CHANGE, reference, precheck, work, ("legal_request.preservation",))
    return preservation_view(reference)


def preservation_view(reference: str) -> dict[str, Any]:
    request = LegalRequest.objects.get(reference=reference)
    return {"reference": reference, "preservation": outcomes(request)["preservation"]}


def on_intake(actor: Actor, reference: str, view: dict[str, Any]) -> dict[str, Any]:
    """Called once a request is taken in: preserve now if the policy says so and it can be."""
    request = LegalRequest.objects.get(reference=reference)
    kind = _kind_of(request)
    if kind is None or not kind.preserve_on_intake or _problem(request, kind, renewing=False):
        return view
    try:
        preserve(actor, reference)
    except (AccessRefused, BadTransition, InvalidHold) as trouble:
        # The request is taken in either way; the custodian sees why nothing is held yet.
        return {**view, "preservation_problem": str(trouble)}
    return present(LegalRequest.objects.get(reference=reference), current_policy())
