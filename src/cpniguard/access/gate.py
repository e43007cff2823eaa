"""`access()`: decide, do, and audit, in one transaction.

    with access(actor, Action.READ, purpose=..., reference=..., subject="subscriber:42",
                categories=policy.cpni_categories) as permit:
        record = load(subject, permit.decision.granted)   # granted categories only
        permit.touched(fields_shown)
        return record

A refusal is audited and committed, then `AccessRefused` is raised to the caller. An allowed
access writes its entry when the block ends, in the same transaction as the work, naming the
fields the block reports it touched. If the block raises, the work rolls back and the attempt
is still audited, as `not_found` or `error`, in a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import transaction

from cpniguard.access.actor import Actor
from cpniguard.audit.models import Outcome
from cpniguard.audit.trail import record
from cpniguard.policy import AccessRequest, Action, Decision, current_policy


class AccessRefused(PermissionError):
    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        super().__init__(decision.reason)


class SubjectNotFound(LookupError):
    """Raised inside an access block when the subject does not exist; audited as not_found."""


@dataclass
class Permit:
    decision: Decision
    subject: str
    fields: set[str] = field(default_factory=set)
    outcome: Outcome = Outcome.ALLOWED

    def touched(self, names: Iterable[str]) -> None:
        self.fields.update(names)

    def about(self, subject: str) -> None:
        """Name the subject once it is known (a search resolves to records inside the block)."""
        self.subject = subject


def event_name(resource: str, action: Action | str) -> str:
    return f"{resource}:{action}"


def _write(actor: Actor, event: str, request: AccessRequest, decision: Decision,
           subject: str, outcome: Outcome, fields: Iterable[str] = ()) -> None:
    record(
        actor=actor.username, role=actor.role, channel=actor.channel, event=event,
        outcome=outcome, purpose=request.purpose, reference=request.reference or "",
        subject=subject,
        categories=decision.granted if decision.allowed else request.categories,
        fields=fields, rule=decision.rule, reason=decision.reason,
        request_id=actor.request_id, policy_version=current_policy().version,
    )


@contextmanager
def access(
    actor: Actor,
    action: Action,
    *,
    resource: str,
    purpose: str,
    reference: str | None,
    subject: str,
    categories: Iterable[str],
    required: Iterable[str] = (),
) -> Iterator[Permit]:
    """`required`: categories without which the work is pointless (attribution without the
    connectivity logs); the others may be masked. Missing a required one is a refusal."""
    request = AccessRequest(actor.role, purpose, action, frozenset(categories),
                            reference or None)
    decision = current_policy().decide(request)
    missing = sorted(frozenset(required) - decision.granted)
    if decision.allowed and missing:
        decision = Decision(False, f"{decision.rule}:missing-category",
                            f"the rule that applies does not cover {', '.join(missing)}")
    event = event_name(resource, action)
    if not decision.allowed:
        with transaction.atomic():
            _write(actor, event, request, decision, subject, Outcome.REFUSED)
        raise AccessRefused(decision)
    permit = Permit(decision, subject)
    try:
        with transaction.atomic():
            yield permit
            _write(actor, event, request, decision, permit.subject, permit.outcome,
                   permit.fields)
    except SubjectNotFound:
        with transaction.atomic():
            _write(actor, event, request, decision, permit.subject, Outcome.NOT_FOUND)
        raise
    except Exception:
        with transaction.atomic():
            _write(actor, event, request, decision, permit.subject, Outcome.ERROR)
        raise


def record_event(actor: Actor, event: str, outcome: Outcome, *, subject: str = "",
                 reason: str = "", fields: Iterable[str] = ()) -> None:
    """Audit something that is not a policy-decided data access (logins, token changes).

    Runs in the caller's transaction if there is one, else in its own.
    """
    with transaction.atomic():
        record(actor=actor.username, role=actor.role, channel=actor.channel, event=event,
               outcome=outcome, subject=subject, reason=reason, fields=fields,
               request_id=actor.request_id, policy_version=current_policy().version)
