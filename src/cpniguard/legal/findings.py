"""A finding: one thing the desk noticed about a request, with how much it matters.

Errors block approval (the request is narrowed, corrected or rejected); warnings and notes
are for the custodian and counsel to read. Codes are stable identifiers, listed in
docs/legal-desk.md, so scripts can act on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    code: str
    message: str
    field: str = ""                # the request field it is about, if any
    target: int | None = None      # the target's position (0-based), if about one
    items: tuple[str, ...] = ()    # the names it is about: categories, documents, fields

    def to_dict(self) -> dict[str, Any]:
        return {"severity": str(self.severity), "code": self.code, "message": self.message,
                "field": self.field, "target": self.target, "items": list(self.items)}


def error(code: str, message: str, **where: Any) -> Finding:
    return Finding(Severity.ERROR, code, message, **where)


def warning(code: str, message: str, **where: Any) -> Finding:
    return Finding(Severity.WARNING, code, message, **where)


def info(code: str, message: str, **where: Any) -> Finding:
    return Finding(Severity.INFO, code, message, **where)


def blocking(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.ERROR]
