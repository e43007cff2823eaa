"""Policy decisions per second: `Policy.decide` against pycasbin on the same rules.

    .venv/bin/python bench/policy_decisions.py [--repeats 5] [--json]

The workload is the shipped policy's whole matrix: every role x every purpose x every action x
a set of category requests (each category alone, a few pairs, the full customer record, every
category). Requests that a grant ties to a reference carry a valid one, because casbin has no
notion of references; everything else is a plain role/category/purpose/action check.

The baseline is pycasbin enforcing the equivalent model built from the same grants: one policy
line per (role, category, purpose:action), subject = role, and the simplest matcher (no role
hierarchy), run by casbin's `FastEnforcer` with its policy index on (sub, obj, act), which is
pycasbin's fastest configuration. The plain `Enforcer`, which scans every policy line per call,
is timed too on a bounded sample. Casbin answers one category per call, so a decision about N
categories costs N calls; both ratios are printed. Before timing, the engines must agree on
every allow/deny and on every granted category, or the run fails.
"""

from __future__ import annotations

import sys

import casbin
from casbin.model import FastModel, Model

from cpniguard.policy import AccessRequest, Action, Policy, load_policy
from harness import arguments, best_of, report

CASBIN_MODEL = """
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.sub == p.sub && r.obj == p.obj && r.act == p.act
"""
GOAL_SPEEDUP = 20.0
GOAL_MICROSECONDS = 10.0
PLAIN_SAMPLE = 2000  # calls timed on the plain Enforcer, which is far slower
INDEX = [0, 1, 2]  # FastEnforcer filters policy lines on sub, obj and act before matching


def casbin_enforcer(policy: Policy, *, fast: bool) -> casbin.Enforcer:
    model = FastModel(INDEX) if fast else Model()
    model.load_model_from_text(CASBIN_MODEL)
    enforcer = (casbin.FastEnforcer(model, cache_key_order=INDEX) if fast
                else casbin.Enforcer(model))
    lines = sorted({(grant.role, category, f"{grant.purpose}:{action}")
                    for grant in policy.grants for action in grant.actions
                    for category in grant.categories})
    enforcer.add_policies([list(line) for line in lines])
    return enforcer


def matrix(policy: Policy) -> list[AccessRequest]:
    categories = sorted(policy.categories)
    category_sets = [frozenset({c}) for c in categories] + [
        frozenset({"name", "phone"}), frozenset({"billing_address", "billing_info"}),
        frozenset({"connectivity_logs", "service_quality"}),
        policy.cpni_categories,  # the full customer record
        frozenset(categories),
    ]
    # A valid reference wherever some grant for the purpose asks for one.
    references = {grant.purpose: policy.references[grant.reference].example
                  for grant in policy.grants if grant.reference}
    return [AccessRequest(role, purpose, action, category_set, references.get(purpose))
            for role in policy.roles for purpose in policy.purposes for action in Action
            for category_set in category_sets]


def check_agreement(policy: Policy, enforcer: casbin.Enforcer,
                    requests: list[AccessRequest]) -> int:
    # Both enforcers are checked: the index must not change an answer.
    """Both engines must allow and grant exactly the same things; returns allowed count."""
    allowed = 0
    for request in requests:
        decision = policy.decide(request)
        act = f"{request.purpose}:{request.action}"
        granted = {c for c in request.categories if enforcer.enforce(request.role, c, act)}
        if decision.allowed != bool(granted) or (decision.allowed and
                                                 decision.granted != granted):
            sys.exit(f"engines disagree on {request}: cpniguard {decision}, casbin {granted}")
        allowed += decision.allowed
    return allowed


def main() -> int:
    parser = arguments(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    policy = load_policy(None)
    enforcer = casbin_enforcer(policy, fast=True)
    plain = casbin_enforcer(policy, fast=False)
    requests = matrix(policy)
    allowed = check_agreement(policy, enforcer, requests)
    check_agreement(policy, plain, requests[::7])
    calls = [(r.role, c, f"{r.purpose}:{r.action}") for r in requests for c in r.categories]
    sample = calls[::max(1, len(calls) // PLAIN_SAMPLE)]

    def decide_all() -> int:
        decide = policy.decide
        for request in requests:
            decide(request)
        return len(requests)

    def enforce_all() -> int:
        enforce = enforcer.enforce
        for role, category, act in calls:
            enforce(role, category, act)
        return len(calls)

    def enforce_plain() -> int:
        for role, category, act in sample:
            plain.enforce(role, category, act)
        return len(sample)

    ours, _ = best_of(args.repeats * 3, decide_all)
    theirs, _ = best_of(args.repeats, enforce_all)
    plain_seconds, _ = best_of(1, enforce_plain)
    plain_call_us = plain_seconds / len(sample) * 1e6
    ours_us = ours / len(requests) * 1e6
    casbin_call_us = theirs / len(calls) * 1e6
    casbin_decision_us = theirs / len(requests) * 1e6
    per_decision = casbin_decision_us / ours_us
    per_call = casbin_call_us / ours_us
    met = per_decision >= GOAL_SPEEDUP and ours_us < GOAL_MICROSECONDS
    lines = [
        f"matrix: {len(requests)} decisions ({allowed} allowed), {len(calls)} casbin calls; "
        f"both engines agree on all of them",
        f"cpniguard Policy.decide: {ours_us:.2f} us/decision "
        f"({1e6 / ours_us:,.0f} decisions/s)",
        f"pycasbin FastEnforcer: {casbin_call_us:.2f} us/call, {casbin_decision_us:.2f} "
        f"us/decision ({len(calls) / len(requests):.2f} calls per decision)",
        f"pycasbin plain Enforcer: {plain_call_us:.2f} us/call "
        f"({len(sample)} calls sampled)",
        f"ratio: {per_decision:.1f}x per decision, {per_call:.1f}x per single casbin call",
        f"{'PASS' if met else 'BELOW GOAL'}: goal >= {GOAL_SPEEDUP:.0f}x per decision and "
        f"< {GOAL_MICROSECONDS:.0f} us/decision",
    ]
    report(args, "policy_decisions", lines, {
        "decisions": len(requests), "casbin_calls": len(calls), "agree": True,
        "us_per_decision": ours_us, "casbin_us_per_call": casbin_call_us,
        "casbin_us_per_decision": casbin_decision_us, "ratio_per_decision": per_decision,
        "casbin_plain_us_per_call": plain_call_us,
        "ratio_per_call": per_call, "goal_met": met,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
