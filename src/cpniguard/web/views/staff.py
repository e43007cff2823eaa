"""The staff member's own pages: sign-in (password, then TOTP where required), authenticator
enrolment, sign-out, the start page, their API tokens; and the public privacy notice."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cpniguard.accounts import services, signin, twofactor
from cpniguard.accounts.models import ApiToken, StaffUser
from cpniguard.accounts.services import AccountError
from cpniguard.policy import Action, current_policy
from cpniguard.policy.notice import render_html_fragment
from cpniguard.web.forms import CodeForm, LoginForm, TokenForm
from cpniguard.web.guards import (
    actor_of,
    audit_options,
    record_options,
    safe_next,
    staff_of,
    staff_page,
)

# ---------------------------------------------------------------- signing in and out


def _locked_response(request: HttpRequest, template: str, context: dict[str, object],
                     seconds: int) -> HttpResponse:
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(seconds)
    return response


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    user = request.user
    if isinstance(user, StaffUser) and user.is_authenticated and request.method == "GET":
        if signin.needs_second_factor(request, user):
            return redirect("web:second_factor")
        return HttpResponseRedirect(safe_next(request, next_url))
    form = LoginForm(request.POST or None)
    context: dict[str, object] = {"form": form, "next": next_url}
    if request.method == "POST" and form.is_valid():
        result = signin.sign_in(request, form.cleaned_data["username"],
                                form.cleaned_data["password"])
        if result.lockout is not None:
            context["error"] = result.error
            return _locked_response(request, "web/login.html", context, result.lockout.seconds)
        if not result.passed:
            context["error"] = result.error
            return render(request, "web/login.html", context)
        signed_in = request.user
        assert isinstance(signed_in, StaffUser)
        if signin.needs_second_factor(request, signed_in):
            query = f"?{urlencode({'next': next_url})}" if next_url else ""
            return HttpResponseRedirect(reverse("web:second_factor") + query)
        return HttpResponseRedirect(safe_next(request, next_url))
    return render(request, "web/login.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def second_factor_page(request: HttpRequest) -> HttpResponse:
    """Verify a code, or enrol an authenticator first if the user has none confirmed."""
    user = request.user
    if not isinstance(user, StaffUser) or not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if signin.second_factor_passed(request):
        return HttpResponseRedirect(safe_next(request, next_url))
    enrolling = not user.totp_confirmed
    if enrolling:
        twofactor.start_enrolment(user)
    form = CodeForm(request.POST or None)
    context: dict[str, object] = {
        "form": form, "next": next_url, "enrolling": enrolling,
        "required": twofactor.required_for(user),
    }
    if enrolling:
        context["secret"] = twofactor.grouped(user.totp_secret)
        context["otpauth_uri"] = twofactor.provisioning_uri(user)
    if request.method == "POST" and form.is_valid():
        result = signin.verify_second_factor(request, user, form.cleaned_data["code"])
        if result.lockout is not None:
            context["error"] = result.error
            return _locked_response(request, "web/second_factor.html", context,
                                    result.lockout.seconds)
        if result.passed:
            return HttpResponseRedirect(safe_next(request, next_url))
        context["error"] = result.error
        return render(request, "web/second_factor.html", context)
    return render(request, "web/second_factor.html", context,
                  status=400 if form.errors else 200)


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    signin.sign_out(request)
    return redirect("web:login")


# ---------------------------------------------------------------- start page and notice


def _grants(role: str) -> list[dict[str, Any]]:
    """The role's grants in words, so staff see the rules they work under."""
    policy = current_policy()
    rows = []
    for grant in policy.grants_for(role):
        kind = policy.references.get(grant.reference) if grant.reference else None
        rows.append({
            "id": grant.id,
            "purpose": policy.purposes[grant.purpose].label,
            "actions": sorted(str(action) for action in grant.actions),
            "categories": [policy.categories[c].label for c in sorted(grant.categories)],
            "reference": f"{kind.label} (e.g. {kind.example})" if kind else "",
        })
    return rows


@require_GET
@staff_page
def home(request: HttpRequest) -> HttpResponse:
    role = staff_of(request).role
    return render(request, "web/home.html", {
        "can_search": bool(record_options(role, Action.SEARCH)),
        "can_audit": bool(audit_options(role)),
        "grants": _grants(role),
    })


@require_GET
def policy_notice(request: HttpRequest) -> HttpResponse:
    policy = current_policy()
    # render_html_fragment escapes every value it inserts; it is the published notice itself.
    notice = mark_safe(render_html_fragment(policy))  # noqa: S308
    return render(request, "web/policy_notice.html", {"notice": notice, "policy": policy})


# ---------------------------------------------------------------- API tokens


def _listing(request: HttpRequest) -> list[dict[str, Any]]:
    now = timezone.now()
    rows = []
    for token in services.tokens_of(staff_of(request)):
        if token.revoked is not None:
            state = "revoked"
        elif token.expires <= now:
            state = "expired"
        else:
            state = "active"
        rows.append({"token": token, "state": state})
    return rows


@require_http_methods(["GET", "POST"])
@staff_page
def tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    context: dict[str, Any] = {"form": form}
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                token, secret = services.issue_token(
                    actor_of(request), staff_of(request), form.cleaned_data["name"],
                    form.cleaned_data["days"])
            except AccountError as error:
                form.add_error(None, str(error))
                status = 400
            else:
                # Rendered straight into this response, never stored or put in a message.
                context.update({"issued": token, "secret": secret, "form": TokenForm()})
                status = 201
        else:
            status = 400
    context["tokens"] = _listing(request)
    return render(request, "web/tokens.html", context, status=status)


@require_POST
@staff_page
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    # Only one's own tokens: someone else's id is simply not found.
    token = get_object_or_404(ApiToken, pk=pk, user=staff_of(request))
    try:
        services.revoke_token(actor_of(request), token)
    except AccountError as error:
        messages.warning(request, str(error))
    else:
        messages.success(request, f"Token {token.prefix}… revoked; it stops working at once.")
    return redirect("web:tokens")
