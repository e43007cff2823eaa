"""Moving a legal request along its workflow: transitions, approvals, narrowing, validation.

Each operation is one transaction with its audit entry (the gate's), and each status change
adds a Transition row in that same transaction. The policy decides who may act at all
(`change` and `approve` on `legal_requests` for `legal_desk`, under the case number); the
workflow decides whether this step is possible now. A step that is not (a transition the state
machine does not allow, a second approval by one person, approving with open errors) is
refused and audited with its reason, before anything is changed:

- approval needs every role of the policy's `[legal_desk] approvals`, each by a different
  person; whoever took the request in may approve it only in the first of those roles;
- a request with error findings cannot be approved: narrow it, or reject it;
- narrowing keeps a subset of the categories asked (partial compliance), with a note.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone

from cpniguard.access import AccessRefused, Actor, access, record_event
from cpniguard.access.gate import SubjectNotFound, event_name
from cpniguard.audit.models import Outcome
from cpniguard.legal.desk import CATEGORIES, PURPOSE, RESOURCE, person_of, present, subject_of
from cpniguard.legal.disclosures import record_ended
from cpniguard.legal.intake import run_validation
from cpniguard.legal.models import Approval, LegalRequest, Transition
from cpniguard.legal.status import NEXT, BadTransition, Status, check_transition
from cpniguard.policy import AccessRequest, Action, Decision, current_policy

Check = Callable[[LegalRequest], str | None]


def _refuse(actor: Actor, action: Action, reference: str, rule: str, reason: str) -> None:
    record_event(actor, event_name(RESOURCE, action), Outcome.REFUSED,
                 subject=subject_of(reference), reason=reason[:500])
    raise AccessRefused(Decision(False, f"deny:legal-workflow:{rule}", reason))


def _step(actor: Actor, action: Action, reference: str, precheck: Check,
          work: Callable[[LegalRequest], None], fields: tuple[str, ...]) -> dict[str, Any]:
    """Decide, check the workflow, do the work and audit it, in that order.

    The workflow is checked only once the policy lets this actor act on this case, so a role
    without access learns nothing about the request from the refusal; it is checked again
    under the row lock, where a race would fail it.
    """
    policy = current_policy()
    allowed = policy.decide(AccessRequest(actor.role, PURPOSE, action, CATEGORIES,
                                          reference)).allowed
    if allowed:
        existing = LegalRequest.objects.filter(reference=reference).first()
        reason = precheck(existing) if existing is not None else None
        if reason:
            _refuse(actor, action, reference, action.value, reason)
    with access(actor, action, resource=RESOURCE, purpose=PURPOSE, reference=reference,
                subject=subject_of(reference), categories=CATEGORIES) as permit:
        request = LegalRequest.objects.select_for_update().filter(reference=reference).first()
        if request is None:
            raise SubjectNotFound(f"no legal request {reference}")
        reason = precheck(request)
        if reason:
            raise BadTransition(reason)
        work(request)
        permit.touched(fields)
        return present(request, policy)


def _move(request: LegalRequest, actor: Actor, to: Status, note: str) -> None:
    Transition.objects.create(request=request, from_status=request.status, to_status=to.value,
                              who=person_of(actor), role=actor.role, when=timezone.now(),
                              note=note)
    request.status = to.value
    request.save(update_fields=["status"])
    if to in (Status.REJECTED, Status.WITHDRAWN):
        # The disclosure log records every answer, including those that disclose nothing.
        record_ended(request, to, actor, timezone.now(), note)


def transition(actor: Actor, reference: str, to: str, note: str = "") -> dict[str, Any]:
    target = Status(to)  # ValueError for a status that does not exist, before anything

    def precheck(request: LegalRequest) -> str | None:
        try:
            check_transition(Status(request.status), target)
        except BadTransition as trouble:
            return str(trouble)
        if target is Status.REJECTED and not note.strip():
            return "a rejection needs its reasons in --note (they go into the letter)"
        return None

    def work(request: LegalRequest) -> None:
        if target is Status.VALIDATING:
            run_validation(request, current_policy(), timezone.now())
        _move(request, actor, target, note.strip())

    return _step(actor, Action.CHANGE, reference, precheck, work,
                 ("legal_request.status", "legal_request.findings"))


def withdraw(actor: Actor, reference: str, note: str = "") -> dict[str, Any]:
    return transition(actor, reference, Status.WITHDRAWN.value,
                      note or "withdrawn by the requester")


def validate_again(actor: Actor, reference: str) -> dict[str, Any]:
    def precheck(request: LegalRequest) -> str | None:
        if Status(request.status) not in (Status.RECEIVED, Status.VALIDATING):
            return f"a request that is {request.status} is no longer validated"
        return None

    def work(request: LegalRequest) -> None:
        run_validation(request, current_policy(), timezone.now())

    return _step(actor, Action.CHANGE, reference, precheck, work, ("legal_request.findings",))


def narrow(actor: Actor, reference: str, categories: list[str],
           note: str = "") -> dict[str, Any]:
    wanted = list(dict.fromkeys(c.strip() for c in categories if c.strip()))

    def precheck(request: LegalRequest) -> str | None:
        if Status(request.status) not in (Status.RECEIVED, Status.VALIDATING):
            return f"a request that is {request.status} can no longer be narrowed"
        if not wanted:
            return "narrowing to nothing is a rejection: use --to rejected with the reasons"
        extra = [c for c in wanted if c not in request.categories]
        if extra:
            return (f"narrowing keeps only categories the request asks for; it does not ask "
                    f"for {', '.join(extra)}")
        return None

    def work(request: LegalRequest) -> None:
        dropped = [c for c in request.categories if c not in wanted]
        request.scope = [c for c in request.categories if c in wanted]
        request.save(update_fields=["scope"])
        run_validation(request, current_policy(), timezone.now())
        text = (f"narrowed to {', '.join(request.scope)}; not answering "
                f"{', '.join(dropped) or 'nothing'} (partial compliance)")
        _move(request, actor, Status(request.status), f"{text}. {note.strip()}".strip())

    return _step(actor, Action.CHANGE, reference, precheck, work,
                 ("legal_request.scope", "legal_request.findings"))


def approve(actor: Actor, reference: str, note: str = "") -> dict[str, Any]:
    roles = current_policy().legal_desk.approvals
    me = person_of(actor)

    def precheck(request: LegalRequest) -> str | None:
        if request.status != Status.VALIDATING.value:
            return (f"only a request being validated can be approved; {request.reference} "
                    f"is {request.status}")
        if actor.role not in roles:
            return f"approvals come from {' and '.join(roles)}, not from {actor.role}"
        given = {a.role: a.who for a in request.approvals.all()}
        if me in given.values():
            return f"{me} has already approved {request.reference}; a second person must"
        if actor.role in given:
            return f"the {actor.role} approval was already given by {given[actor.role]}"
        if me == request.created_by and actor.role != roles[0]:
            return (f"{me} took this request in, so the {actor.role} approval must come "
                    "from someone else")
        errors = request.findings.filter(severity="error").count()
        if errors:
            return (f"{errors} error finding(s) are open: narrow the request or reject it "
                    "(cpniguard legal show)")
        return None

    def work(request: LegalRequest) -> None:
        Approval.objects.create(request=request, who=me, role=actor.role, when=timezone.now())
        given = list(request.approvals.order_by("id").values_list("role", "who"))
        if {role for role, _ in given} >= set(roles):
            names = ", ".join(f"{who} ({role})" for role, who in given)
            _move(request, actor, Status.APPROVED,
                  f"approved by {names}. {note.strip()}".strip())

    return _step(actor, Action.APPROVE, reference, precheck, work,
                 ("legal_request.approvals", "legal_request.status"))


STATUS_CHOICES = tuple(str(s) for s in NEXT)
