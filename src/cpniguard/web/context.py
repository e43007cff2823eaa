"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from cpniguard.policy import current_policy


def navigation(request: HttpRequest) -> dict[str, Any]:
    policy = current_policy()
    user = getattr(request, "user", None)
    role = getattr(user, "role", "") if user is not None and user.is_authenticated else ""
    return {
        "organization": policy.organization,
        "policy_version": policy.version,
        "staff_role": role,
        "staff_role_label": policy.roles[role].label if role in policy.roles else "",
    }
