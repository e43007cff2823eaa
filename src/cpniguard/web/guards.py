"""Who may reach a page at all, what the forms offer, and what a refusal looks like.

Every staff page is wrapped in `staff_page`: no session → the sign-in form; a role (or user)
that needs a second factor not yet passed in this session → the second-factor page. Only the
sign-in pages, sign-out and the public privacy notice go without it, and a test walks the URL
map to hold that line.

Before touching data a staff member declares a purpose; `purpose_options` lists the ones their
role may declare for an action, and which need a reference (a ticket, a legal case), read from
the policy's grants. These are hints so the forms only offer sensible choices. They decide
nothing: whatever purpose comes back in a request goes to the service, and the access gate
alone allows or refuses it; a refusal becomes `refused()`, an HTTP 403 page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from cpniguard.access import Actor, Channel
from cpniguard.access.gate import AccessRefused
from cpniguard.accounts.models import StaffUser
from cpniguard.accounts.signin import needs_second_factor
from cpniguard.policy import Action, Policy, current_policy
from cpniguard.subscribers.catalog import RECORD_CATEGORIES

View = Callable[..., HttpResponse]

AUDIT_CATEGORIES = frozenset({"audit_trail"})


@dataclass(frozen=True, slots=True)
class PurposeOption:
    id: str
    label: str
    notice: str
    reference_label: str = ""
    reference_example: str = ""

    @property
    def needs_reference(self) -> bool:
        return bool(self.reference_label)

    @property
    def choice_label(self) -> str:
        if not self.needs_reference:
            return self.label
        kind = self.reference_label.lower()
        return f"{self.label} (needs a {kind}, e.g. {self.reference_example})"


def purpose_options(role: str, action: Action, categories: Iterable[str],
                    policy: Policy | None = None) -> list[PurposeOption]:
    """Purposes `role` may declare for `action` on at least one of `categories`."""
    policy = policy or current_policy()
    wanted = frozenset(categories)
    options: list[PurposeOption] = []
    seen: set[str] = set()
    for grant in policy.grants_for(role):
        if action not in grant.actions or not grant.categories & wanted or grant.purpose in seen:
            continue
        seen.add(grant.purpose)
        purpose = policy.purposes[grant.purpose]
        kind = policy.references.get(grant.reference) if grant.reference else None
        options.append(PurposeOption(
            purpose.id, purpose.label, purpose.notice,
            kind.label if kind else "", kind.example if kind else "",
        ))
    return options


def record_options(role: str, action: Action) -> list[PurposeOption]:
    return purpose_options(role, action, RECORD_CATEGORIES)


def audit_options(role: str, action: Action = Action.SEARCH) -> list[PurposeOption]:
    return purpose_options(role, action, AUDIT_CATEGORIES)


def may(role: str, action: Action, purpose: str, category: str) -> bool:
    """Whether a grant covers this (role, action, purpose, category); used to hide controls."""
    return any(
        grant.purpose == purpose and action in grant.actions and category in grant.categories
        for grant in current_policy().grants_for(role)
    )


def purpose_label(purpose: str) -> str:
    known = current_policy().purposes.get(purpose)
    return known.label if known else purpose


# Pages reachable without a signed-in session (checked by tests/web/test_guards.py).
PUBLIC_PAGES = frozenset({"login", "second_factor", "logout", "policy_notice"})


def staff_page(view: View) -> View:
    @wraps(view)
    def guarded(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        user = request.user
        if not isinstance(user, StaffUser) or not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if needs_second_factor(request, user):
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{reverse('web:second_factor')}?{query}")
        return view(request, *args, **kwargs)

    return guarded


def staff_of(request: HttpRequest) -> StaffUser:
    """The signed-in staff member of a request that passed `staff_page`."""
    user = request.user
    if not isinstance(user, StaffUser):
        raise TypeError("staff_of() outside a staff_page view")
    return user


def actor_of(request: HttpRequest) -> Actor:
    return Actor.for_staff(staff_of(request), Channel.WEB, str(getattr(request, "request_id", "")))


def safe_next(request: HttpRequest, candidate: str | None, default: str = "web:home") -> str:
    """Where to go after signing in: a path on this site, never another origin."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(default)


def refused(request: HttpRequest, error: AccessRefused, *, doing: str,
            options: list[PurposeOption], retry_url: str = "") -> HttpResponse:
    """The 403 page: the decision's reason and rule, and what this role could declare instead."""
    decision = error.decision
    role = current_policy().roles.get(staff_of(request).role)
    context = {
        "decision": decision,
        "doing": doing,
        "options": options,
        "role_label": role.label if role else "",
        "retry_url": retry_url,
        "purpose": request.GET.get("purpose") or request.POST.get("purpose", ""),
        "reference": request.GET.get("reference") or request.POST.get("reference", ""),
    }
    template = "web/partials/refusal.html" if request.headers.get("HX-Request") \
        else "web/refused.html"
    response = render(request, template, context, status=403)
    if request.headers.get("HX-Request"):
        # htmx swaps the explanation into the form's feedback slot instead of the list.
        response["HX-Retarget"] = "#interaction-feedback"
        response["HX-Reswap"] = "innerHTML"
    return response


ACTION_WORDS = {
    Action.SEARCH: "search customer records",
    Action.READ: "open a customer record",
    Action.ANNOTATE: "add an interaction note",
}
