"""Which retention period applies to which store source, said explicitly.

The log store names a source by the format it was ingested as (`radius-detail`,
`kea-lease4`, ...); the policy's [retention] table names kinds of log (`radius_accounting`,
...). This table joins the two. A store source missing here, or a retention key missing from
the policy, stops the run before anything is deleted: logs are never kept forever because a
rule was left out, nor deleted because a name looked similar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from cpniguard.policy import Policy

RETENTION_KEY = {
    # RADIUS accounting: sessions and the address each one had.
    "radius-detail": "radius_accounting",
    "radacct-csv": "radius_accounting",
    # DHCP: leases, from ISC dhcpd and Kea (lease files and the forensic legal log).
    "dhcpd-leases": "dhcp_leases",
    "kea-lease4": "dhcp_leases",
    "kea-lease6": "dhcp_leases",
    "kea-legal": "dhcp_leases",
    # Address translation: CGNAT port blocks, conntrack, deterministic NAT mappings.
    "juniper-nat": "cgnat_port_blocks",
    "cisco-nat": "cgnat_port_blocks",
    "asa-nat": "cgnat_port_blocks",
    "conntrack": "cgnat_port_blocks",
    "detnat": "cgnat_port_blocks",
}


class NoRetentionRule(ValueError):
    """A store source the run cannot place under a retention period."""


@dataclass(frozen=True, slots=True)
class Rule:
    source: str
    key: str
    days: int
    cutoff: datetime  # data entirely before this instant has expired

    def expired(self, day: date) -> bool:
        """A day has expired when all of it, up to the next midnight UTC, is before the cutoff."""
        end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        return end <= self.cutoff

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "retention_key": self.key, "days": self.days,
                "cutoff": self.cutoff.isoformat()}


def rules_for(sources: list[str], policy: Policy, now: datetime) -> dict[str, Rule]:
    """The rule of every source, or NoRetentionRule naming all that have none."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    now = now.astimezone(UTC)
    rules: dict[str, Rule] = {}
    problems: list[str] = []
    for source in sorted(set(sources)):
        key = RETENTION_KEY.get(source)
        if key is None:
            problems.append(f"store source {source!r} has no retention rule "
                            "(retention.sources.RETENTION_KEY)")
        elif key not in policy.retention:
            problems.append(f"source {source!r} needs retention.{key} in the policy "
                            f"{policy.source}")
        else:
            days = policy.retention[key]
            rules[source] = Rule(source, key, days, now - timedelta(days=days))
    if problems:
        raise NoRetentionRule("; ".join(problems))
    return rules
