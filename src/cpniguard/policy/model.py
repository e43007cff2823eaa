"""The policy as plain data, and the one function that decides every access.

Pure Python, no Django: a decision is a dictionary look-up and two set operations, so the
same answer comes out of the web UI, the API, the CLI and the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from cpniguard.policy.legal_process import LegalDesk, LegalProcessKind


class Action(StrEnum):
    SEARCH = "search"
    READ = "read"
    ANNOTATE = "annotate"
    CHANGE = "change"
    IMPORT = "import"
    EXPORT = "export"
    HOLD = "hold"      # place, renew or release a legal hold on connectivity logs
    PURGE = "purge"    # delete records whose retention period has ended
    APPROVE = "approve"  # approve a legal request for production (one of two people)


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    label: str
    notice: str
    cpni: bool


@dataclass(frozen=True, slots=True)
class Purpose:
    id: str
    label: str
    notice: str
    forbidden: bool = False
    third_party: bool = False


@dataclass(frozen=True, slots=True)
class Role:
    id: str
    label: str
    second_factor: bool = False


@dataclass(frozen=True, slots=True)
class ReferenceKind:
    id: str
    label: str
    pattern: re.Pattern[str]
    example: str


@dataclass(frozen=True, slots=True)
class Grant:
    id: str
    role: str
    purpose: str
    actions: frozenset[Action]
    categories: frozenset[str]
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class AccessRequest:
    role: str
    purpose: str
    action: Action | str
    categories: frozenset[str]
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    rule: str
    reason: str
    granted: frozenset[str] = frozenset()
    masked: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Organization:
    name: str
    legal_name: str
    effective: str
    privacy_contact: str
    phone: str


@dataclass
class Policy:
    version: str
    organization: Organization
    categories: dict[str, Category]
    purposes: dict[str, Purpose]
    roles: dict[str, Role]
    references: dict[str, ReferenceKind]
    grants: list[Grant]
    retention: dict[str, int]
    source: str = "<default>"
    legal_process: dict[str, LegalProcessKind] = field(default_factory=dict)
    legal_documents: dict[str, str] = field(default_factory=dict)
    legal_desk: LegalDesk = field(default_factory=LegalDesk)
    _index: dict[tuple[str, str, str], Grant] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for grant in self.grants:
            for action in grant.actions:
                self._index[(grant.role, grant.purpose, action.value)] = grant

    def decide(self, request: AccessRequest) -> Decision:
        """Allow or refuse one access, deny by default, naming the rule that decided."""
        purpose = self.purposes.get(request.purpose)
        if purpose is None:
            return Decision(False, "deny:unknown-purpose", f"unknown purpose {request.purpose!r}")
        if purpose.forbidden:
            return Decision(
                False,
                f"deny:forbidden-purpose:{purpose.id}",
                f"{purpose.label} is a forbidden purpose: {purpose.notice}",
            )
        if request.role not in self.roles:
            return Decision(False, "deny:unknown-role", f"unknown role {request.role!r}")
        unknown = request.categories - self.categories.keys()
        if unknown:
            return Decision(
                False, "deny:unknown-category", f"unknown data categories {sorted(unknown)}"
            )
        grant = self._index.get((request.role, request.purpose, str(request.action)))
        if grant is None:
            role = self.roles[request.role].label
            return Decision(
                False,
                "deny:default",
                f"no rule lets {role} {request.action} customer data for {purpose.label}",
            )
        if grant.reference is not None:
            kind = self.references[grant.reference]
            if not request.reference:
                return Decision(
                    False,
                    f"grant:{grant.id}:reference-required",
                    f"{purpose.label} requires a {kind.label.lower()} reference"
                    f" (for example {kind.example})",
                )
            if not kind.pattern.fullmatch(request.reference):
                return Decision(
                    False,
                    f"grant:{grant.id}:reference-malformed",
                    f"{request.reference!r} is not a valid {kind.label.lower()} reference"
                    f" (for example {kind.example})",
                )
        granted = request.categories & grant.categories
        if not granted:
            return Decision(
                False,
                f"grant:{grant.id}:no-category",
                f"{purpose.label} does not need any of {sorted(request.categories)}",
            )
        return Decision(
            True,
            f"grant:{grant.id}",
            f"allowed by rule {grant.id}",
            granted,
            request.categories - granted,
        )

    def grants_for(self, role: str) -> list[Grant]:
        return [grant for grant in self.grants if grant.role == role]

    def purposes_for(self, role: str, action: Action, category: str | None = None) -> list[Purpose]:
        """Purposes a role could choose for an action: what the UI offers in its prompt."""
        return [
            self.purposes[grant.purpose]
            for grant in self.grants
            if grant.role == role
            and action in grant.actions
            and (category is None or category in grant.categories)
        ]

    @property
    def cpni_categories(self) -> frozenset[str]:
        return frozenset(c.id for c in self.categories.values() if c.cpni)
