"""The privacy policy as code: the one place that decides who may do what, and why.

`current_policy()` is the policy in force: the operator's file named by CPNIGUARD_POLICY, or the
shipped default. Everything that reads customer data asks `current_policy().decide(...)`
through `cpniguard.access.gate`; nothing else decides.
"""

from __future__ import annotations

import os
from functools import cache

from cpniguard.policy.loader import InvalidPolicy, PolicyError, load_policy, parse_policy
from cpniguard.policy.model import AccessRequest, Action, Decision, Policy


@cache
def current_policy() -> Policy:
    return load_policy(os.environ.get("CPNIGUARD_POLICY") or None)


__all__ = [
    "AccessRequest",
    "Action",
    "Decision",
    "InvalidPolicy",
    "Policy",
    "PolicyError",
    "current_policy",
    "load_policy",
    "parse_policy",
]
