"""Template context shared by every page: the organisation, who is signed in, the menu."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from cpniguard.accounts.models import StaffUser
from cpniguard.policy import Action, current_policy


def navigation(request: HttpRequest) -> dict[str, Any]:
    from cpniguard.accounts.signin import needs_second_factor
    from cpniguard.web.attribution_views import attribution_options
    from cpniguard.web.guards import audit_options, purpose_options, record_options
    from cpniguard.web.quality_views import quality_options

    policy = current_policy()
    user = getattr(request, "user", None)
    staff = user if isinstance(user, StaffUser) and user.is_authenticated else None
    role = staff.role if staff is not None else ""
    # The menu appears only once sign-in is complete, second factor included.
    signed_in = staff is not None and not needs_second_factor(request, staff)
    return {
        "organization": policy.organization,
        "policy_version": policy.version,
        "staff_user": staff,
        "staff_role": role,
        "staff_role_label": policy.roles[role].label if role in policy.roles else "",
        "signed_in": signed_in,
        "nav_search": signed_in and bool(record_options(role, Action.SEARCH)),
        "nav_audit": signed_in and bool(audit_options(role)),
        "nav_attribution": signed_in and bool(attribution_options(role)),
        "nav_network": signed_in and bool(quality_options(role)),
        "nav_legal": signed_in and bool(purpose_options(role, Action.SEARCH, {"legal_requests"})),
    }
