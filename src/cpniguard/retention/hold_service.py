"""Placing, renewing, releasing and listing legal holds: each through the gate, audited.

Placing, renewing and releasing are the action `hold` on the category `legal_holds` for the
purpose `legal_process`, under the hold's legal case reference (the shipped policy grants it
to the custodian of records). Renewing or releasing must cite the hold's own case: a case
reference opens the holds of that case only, and a mismatch is refused and audited. Listing is
a `search` of `legal_holds` for whatever purpose the policy grants it to (compliance review,
retention, legal process; under legal process only the cited case's holds are listed).

A hold is never deleted: release and expiry end its effect and keep the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from cpniguard.access import AccessRefused, Actor, access, record_event
from cpniguard.access.gate import SubjectNotFound, event_name
from cpniguard.audit.models import Outcome
from cpniguard.policy import AccessRequest, Action, Decision, current_policy
from cpniguard.retention.holds import InvalidHold, check_range, normalize_identifier
from cpniguard.retention.models import LegalHold

RESOURCE = "connectivity:legal_hold"
PURPOSE = "legal_process"
CATEGORIES = frozenset({"legal_holds"})
FIELDS = ("legal_hold.kind", "legal_hold.identifier", "legal_hold.starts", "legal_hold.ends",
          "legal_hold.expires", "legal_hold.reference")


@dataclass(frozen=True, slots=True)
class HoldView:
    """A hold as shown to staff: every instant in UTC, with its state at `at`."""

    id: int
    kind: str
    identifier: str
    starts: str
    ends: str
    expires: str
    reference: str
    state: str
    created_by: str
    created: str
    renewed: str | None
    released: str | None

    @classmethod
    def of(cls, hold: LegalHold, at: datetime) -> HoldView:
        def utc(moment: datetime | None) -> str | None:
            return None if moment is None else moment.astimezone(UTC).isoformat()

        return cls(hold.pk, hold.kind, hold.identifier, str(utc(hold.starts)),
                   str(utc(hold.ends)), str(utc(hold.expires)), hold.reference,
                   hold.state(at), hold.created_by, str(utc(hold.created)),
                   utc(hold.renewed), utc(hold.released))

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def _future(expires: datetime, now: datetime) -> None:
    if expires.tzinfo is None or expires.utcoffset() is None:
        raise InvalidHold(f"the expiry {expires.isoformat()} has no offset or zone")
    if expires <= now:
        raise InvalidHold(f"the expiry {expires.astimezone(UTC).isoformat()} is not in the "
                          "future")


def create_hold(actor: Actor, *, identifier: str, kind: str | None, starts: datetime,
                ends: datetime, expires: datetime, reference: str) -> HoldView:
    """Raises InvalidHold before anything is asked or written; AccessRefused (audited)."""
    now = timezone.now()
    which, canonical = normalize_identifier(identifier, kind)
    check_range(starts, ends, expires)
    _future(expires, now)
    with access(actor, Action.HOLD, resource=RESOURCE, purpose=PURPOSE, reference=reference,
                subject="legal_hold:new", categories=CATEGORIES) as permit:
        hold = LegalHold.objects.create(
            kind=which.value, identifier=canonical, starts=starts.astimezone(UTC),
            ends=ends.astimezone(UTC), expires=expires.astimezone(UTC), reference=reference,
            created_by=actor.username, created=now)
        permit.about(f"legal_hold:{hold.pk}")
        permit.touched(FIELDS)
    return HoldView.of(hold, now)


def _scoped(actor: Actor, hold_id: int, reference: str) -> None:
    """Refuse (and audit) a renewal or release citing another case than the hold's own.

    Only for someone the policy would let change holds at all: anyone else is refused by the
    gate first, so a hold's case cannot be probed by trying references.
    """
    request = AccessRequest(actor.role, PURPOSE, Action.HOLD, frozenset(CATEGORIES),
                            reference or None)
    if not current_policy().decide(request).allowed:
        return
    hold = LegalHold.objects.filter(pk=hold_id).only("reference").first()
    if hold is not None and hold.reference != reference:
        reason = f"legal hold {hold_id} belongs to another case than {reference}"
        record_event(actor, event_name(RESOURCE, Action.HOLD), Outcome.REFUSED,
                     subject=f"legal_hold:{hold_id}", reason=reason[:500])
        raise AccessRefused(Decision(False, "deny:hold-other-case", reason))


def _change(actor: Actor, hold_id: int, reference: str, fields: list[str],
            change: Any) -> HoldView:
    _scoped(actor, hold_id, reference)
    now = timezone.now()
    with access(actor, Action.HOLD, resource=RESOURCE, purpose=PURPOSE, reference=reference,
                subject=f"legal_hold:{hold_id}", categories=CATEGORIES) as permit:
        hold = LegalHold.objects.select_for_update().filter(pk=hold_id).first()
        if hold is None:
            raise SubjectNotFound(f"no legal hold {hold_id}")
        if hold.released is not None:
            raise InvalidHold(f"legal hold {hold_id} was released on "
                              f"{hold.released.astimezone(UTC).isoformat()}; place a new one")
        change(hold, now)
        hold.save()
        permit.touched(fields)
    return HoldView.of(hold, now)


def renew_hold(actor: Actor, hold_id: int, *, expires: datetime, reference: str) -> HoldView:
    """A new expiry, later than the current one. An expired hold may be renewed: it protects
    again from now on, but what was purged while it had lapsed is gone."""
    _future(expires, timezone.now())

    def renew(hold: LegalHold, now: datetime) -> None:
        if expires <= hold.expires:
            raise InvalidHold(f"legal hold {hold.pk} already lasts until "
                              f"{hold.expires.astimezone(UTC).isoformat()}; a renewal "
                              "extends it")
        hold.expires, hold.renewed, hold.renewed_by = expires.astimezone(UTC), now, \
            actor.username

    return _change(actor, hold_id, reference, ["legal_hold.expires", "legal_hold.renewed"],
                   renew)


def release_hold(actor: Actor, hold_id: int, *, reference: str) -> HoldView:
    def release(hold: LegalHold, now: datetime) -> None:
        hold.released, hold.released_by = now, actor.username

    return _change(actor, hold_id, reference, ["legal_hold.released"], release)


def list_holds(actor: Actor, *, purpose: str, reference: str | None,
               include_ended: bool = True) -> list[HoldView]:
    now = timezone.now()
    with access(actor, Action.SEARCH, resource=RESOURCE, purpose=purpose, reference=reference,
                subject="legal_holds", categories=CATEGORIES) as permit:
        holds = LegalHold.objects.all()
        if reference:
            holds = holds.filter(reference=reference)
        views = [HoldView.of(h, now) for h in holds]
        if not include_ended:
            views = [v for v in views if v.state == "active"]
        permit.about("legal_holds:" + (reference or "all"))
        permit.touched(FIELDS)
    return views
