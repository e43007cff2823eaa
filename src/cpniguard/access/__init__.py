"""The one choke point: every read of customer data asks the policy and writes its audit entry
in the same transaction. Views, API endpoints and CLI commands call domain services, which call
`gate.access`; none of them decides or audits on its own.
"""

from cpniguard.access.actor import Actor, Channel
from cpniguard.access.gate import AccessRefused, Permit, access, record_event

__all__ = ["AccessRefused", "Actor", "Channel", "Permit", "access", "record_event"]
