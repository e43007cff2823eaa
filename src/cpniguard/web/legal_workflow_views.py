"""The workflow buttons of a legal request's page, and the package manifest download.

Each button is a POST (with its CSRF token) to one step, carried out by `legal.workflow`, the
service the CLI and the API use: the policy decides who may act at all, the workflow whether
the step is possible now, and both refusals are audited there. Which buttons a page shows is
only a hint from the same policy and state machine; the service decides again on every POST,
so a stale page (a second approval by the same person, a step already taken) gets the
service's refusal as a message on the request's page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from cpniguard.access.gate import AccessRefused, SubjectNotFound
from cpniguard.legal import workflow
from cpniguard.legal.desk import PURPOSE
from cpniguard.legal.package import PackageDamaged
from cpniguard.legal.package_reading import manifest_of
from cpniguard.legal.status import NEXT, BadTransition, Status
from cpniguard.policy import Action, current_policy
from cpniguard.web.guards import actor_of, may, refused, staff_page
from cpniguard.web.legal_forms import StepForm

DESK = "legal_requests"


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    label: str
    explains: str
    note_label: str = "Note (optional)"
    danger: bool = False


STEPS = {s.id: s for s in (
    Step("validate", "Start validation", "Checks the request against the policy's rules "
         "for its kind again and moves it to validating, where it can be approved."),
    Step("revalidate", "Validate again", "Runs the rules again (the policy or the CGNAT "
         "pools may have changed); the status stays."),
    Step("approve", "Approve", "Recorded under your name and role. Production needs the "
         "approval of every role listed, each by a different person."),
    Step("narrow", "Narrow (partial compliance)", "Answers only the categories ticked; the "
         "rest is refused in a partial-compliance letter."),
    Step("reject", "Reject", "The reasons go into the rejection letter.",
         note_label="Reasons (required)", danger=True),
    Step("withdraw", "Withdraw", "The requester withdrew it; nothing is produced.",
         danger=True),
    Step("close", "Close", "Nothing more is owed or expected."),
)}


def steps_for(role: str, person: str, view: dict[str, Any]) -> list[Step]:
    """The steps this person may take now, by the policy's grants and the state machine."""
    status = Status(view["status"])
    change = may(role, Action.CHANGE, PURPOSE, DESK)
    approving = may(role, Action.APPROVE, PURPOSE, DESK) \
        and role in current_policy().legal_desk.approvals
    given = {a["role"]: a["who"] for a in view["approvals"]}
    wanted = [
        ("validate", change and status is Status.RECEIVED),
        ("revalidate", change and status is Status.VALIDATING),
        ("approve", approving and status is Status.VALIDATING and role not in given
         and person not in given.values()),
        ("narrow", change and status in (Status.RECEIVED, Status.VALIDATING)
         and bool(view["categories"])),
        ("reject", change and Status.REJECTED in NEXT[status]),
        ("withdraw", change and Status.WITHDRAWN in NEXT[status]),
        ("close", change and Status.CLOSED in NEXT[status]),
    ]
    return [STEPS[name] for name, shown in wanted if shown]


def approval_slots(view: dict[str, Any]) -> list[dict[str, Any]]:
    """One line per approving role of the policy: who gave it and when, or still awaited."""
    given = {a["role"]: a for a in view["approvals"]}
    policy = current_policy()
    return [{"role": role, "label": policy.roles[role].label if role in policy.roles else role,
             "given": given.get(role)} for role in policy.legal_desk.approvals]


def _outcome(view: dict[str, Any]) -> str:
    approvals = ", ".join(f"{a['who']} ({a['role']})" for a in view["approvals"])
    return f"Now {view['status']}" + (f"; approved by {approvals}." if approvals else ".")


def _runner(step: str, request: HttpRequest, reference: str,
            note: str) -> Callable[[], dict[str, Any]]:
    actor = actor_of(request)
    runs: dict[str, Callable[[], dict[str, Any]]] = {
        "validate": lambda: workflow.transition(actor, reference, "validating", note),
        "revalidate": lambda: workflow.validate_again(actor, reference),
        "approve": lambda: workflow.approve(actor, reference, note),
        "narrow": lambda: workflow.narrow(actor, reference,
                                          request.POST.getlist("categories"), note),
        "reject": lambda: workflow.transition(actor, reference, "rejected", note),
        "withdraw": lambda: workflow.withdraw(actor, reference, note),
        "close": lambda: workflow.transition(actor, reference, "closed", note),
    }
    return runs[step]


@staff_page  # first: a visitor who is not signed in goes to the sign-in page
@require_POST
def legal_step(request: HttpRequest, reference: str, step: str) -> HttpResponse:
    if step not in STEPS:
        raise Http404("no such step")
    back = HttpResponseRedirect(reverse("web:legal_detail", args=[reference]))
    form = StepForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not done: {form.errors.as_text()}")
        return back
    try:
        view = _runner(step, request, reference, form.cleaned_data["note"])()
    except AccessRefused as error:
        if not error.decision.rule.startswith("deny:legal-workflow"):
            return refused(request, error, doing=f"{STEPS[step].label.lower()} a legal "
                           "request", options=[])
        messages.error(request, f"Not done: {error.decision.reason}")
        return back
    except BadTransition as trouble:
        messages.error(request, f"Not done: {trouble}")
        return back
    except SubjectNotFound:
        raise Http404("no such legal request") from None
    messages.success(request, f"{STEPS[step].label}: done. {_outcome(view)}")
    return back


@require_GET
@staff_page
def legal_manifest(request: HttpRequest, reference: str) -> HttpResponse:
    try:
        name, data = manifest_of(actor_of(request), reference)
    except AccessRefused as error:
        return refused(request, error, doing="read a legal package's manifest", options=[])
    except SubjectNotFound:
        raise Http404("no such legal request") from None
    except (BadTransition, PackageDamaged) as trouble:
        messages.error(request, str(trouble))
        return HttpResponseRedirect(reverse("web:legal_detail", args=[reference]))
    response = HttpResponse(data, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
