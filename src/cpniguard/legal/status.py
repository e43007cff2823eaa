"""The workflow of a legal request as a state machine: which status may follow which.

received -> validating -> approved (two people) -> producing -> produced -> delivered -> closed
received | validating -> rejected -> closed
any open status -> withdrawn -> closed

`approved` is reached only by approvals (`workflow.approve`), never by a plain transition, so
the two-person rule cannot be skipped.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    RECEIVED = "received"
    VALIDATING = "validating"
    APPROVED = "approved"
    REJECTED = "rejected"
    PRODUCING = "producing"
    PRODUCED = "produced"
    DELIVERED = "delivered"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


NEXT: dict[Status, frozenset[Status]] = {
    Status.RECEIVED: frozenset({Status.VALIDATING, Status.REJECTED, Status.WITHDRAWN}),
    Status.VALIDATING: frozenset({Status.APPROVED, Status.REJECTED, Status.WITHDRAWN}),
    Status.APPROVED: frozenset({Status.PRODUCING, Status.WITHDRAWN}),
    Status.PRODUCING: frozenset({Status.PRODUCED, Status.WITHDRAWN}),
    Status.PRODUCED: frozenset({Status.DELIVERED, Status.WITHDRAWN}),
    Status.DELIVERED: frozenset({Status.CLOSED}),
    Status.REJECTED: frozenset({Status.CLOSED}),
    Status.WITHDRAWN: frozenset({Status.CLOSED}),
    Status.CLOSED: frozenset(),
}
# Reached only through their own operation, which checks more than the order of states:
# approving (two people), producing (the desk runs the queries and seals the package) and
# delivering (records how and to whom, and writes the disclosure log).
OPERATION_OF = {Status.APPROVED: "approvals (cpniguard legal approve)",
                Status.PRODUCING: "production (cpniguard legal produce)",
                Status.PRODUCED: "production (cpniguard legal produce)",
                Status.DELIVERED: "delivery (cpniguard legal deliver)"}
BY_OPERATION = frozenset(OPERATION_OF)
# The deadline no longer runs: nothing is owed to the requester.
SETTLED = frozenset({Status.DELIVERED, Status.REJECTED, Status.WITHDRAWN, Status.CLOSED})


class BadTransition(ValueError):
    pass


def check_transition(current: Status, to: Status, *, by_operation: bool = False) -> None:
    if to not in NEXT[current]:
        allowed = ", ".join(sorted(NEXT[current])) or "nothing (closed)"
        raise BadTransition(f"a request that is {current} can go to: {allowed}; not {to}")
    if to in BY_OPERATION and not by_operation:
        raise BadTransition(f"{to} is reached only by {OPERATION_OF[to]}")
