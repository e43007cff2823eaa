"""The scope of an answer, and the checker that re-verifies a whole package against it.

    scope = Scope(...)                       # from the request: targets, categories, dates
    problems = violations(scope, answers, rows)

A package may hold only rows that the request admits: each row names a target the request
names, a category both asked for and allowed for its kind (after narrowing), an instant
inside the named date range, and a subscriber who was the single answer for that target; and
it carries the scope clause that admits it, word for word. `violations` lists, naming each
one, every row or answer that falls outside; release is refused unless it returns nothing.

Pure Python, no Django: production builds rows with these types, and the checker is run
again on the rows read back from the written package, so what is checked is what is sent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

# What a target's answer may say. Only `records` carries a subscriber and rows.
RECORDS = "records"
NO_RECORDS = "no_records"
STATUSES = frozenset({RECORDS, NO_RECORDS, "ambiguous", "port_required", "no_match",
                      "outside_range", "unreadable"})
SUBSCRIBER_TARGETS = frozenset({"account", "name", "phone", "email", "address"})


def zulu(moment: datetime) -> str:
    """`2024-03-04T10:30:00Z`: the form clauses and packages write instants in."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class ScopeTarget:
    number: int                      # 1-based, as the request lists it
    kind: str                        # account, name, phone, email, address, ip
    value: str                       # as understood; "" if unreadable
    instant: datetime | None = None  # ip targets: the instant named (UTC)

    def describe(self) -> str:
        if self.kind == "ip":
            at = f" at {zulu(self.instant)}" if self.instant else ""
            return f"IP {self.value}{at}"
        return f"{self.kind} {self.value}"


@dataclass(frozen=True, slots=True)
class Scope:
    reference: str
    kind_label: str
    statute: str
    categories: tuple[str, ...]      # asked, allowed for the kind, within the narrowing
    targets: tuple[ScopeTarget, ...]
    date_from: datetime | None = None
    date_to: datetime | None = None

    def target(self, number: int) -> ScopeTarget | None:
        return next((t for t in self.targets if t.number == number), None)

    def clause(self, number: int, category: str) -> str:
        target = self.target(number)
        named = target.describe() if target else "(not a named target)"
        label = self.kind_label[:1].lower() + self.kind_label[1:] \
            if self.kind_label[1:2].islower() else self.kind_label
        return (f"target {number}: {named}; category {category}; allowed by {self.statute} "
                f"for a {label}")

    def within(self, moment: datetime) -> bool:
        """Inside the named range [from, to]; no range named: no limit by date."""
        if self.date_from is not None and moment < self.date_from:
            return False
        return not (self.date_to is not None and moment > self.date_to)


@dataclass(frozen=True, slots=True)
class TargetAnswer:
    target: int
    status: str
    note: str = ""
    subscribers: tuple[int, ...] = ()  # our record numbers: one, for `records`

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "subscribers": list(self.subscribers)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetAnswer:
        return cls(int(data["target"]), str(data["status"]), str(data.get("note", "")),
                   tuple(int(s) for s in data.get("subscribers", [])))


@dataclass(frozen=True, slots=True)
class ProducedRow:
    target: int
    subscriber: int       # our record number (not an account number: that is a category)
    category: str
    field: str
    value: str
    at: str | None        # UTC instant the row is about (log rows), else None
    clause: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProducedRow:
        at = data.get("at")
        return cls(int(data["target"]), int(data["subscriber"]), str(data["category"]),
                   str(data["field"]), str(data["value"]), None if at is None else str(at),
                   str(data["clause"]))


def _instant(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def violations(scope: Scope, answers: list[TargetAnswer],
               rows: list[ProducedRow]) -> list[str]:
    """Everything in the package the request does not admit, each named; [] to release."""
    problems: list[str] = []
    by_target: dict[int, TargetAnswer] = {}
    for answer in answers:
        target = scope.target(answer.target)
        if target is None:
            problems.append(f"answer for target {answer.target}: the request names no such "
                            "target")
            continue
        if answer.target in by_target:
            problems.append(f"target {answer.target} is answered twice")
        by_target[answer.target] = answer
        if answer.status not in STATUSES:
            problems.append(f"target {answer.target}: unknown status {answer.status!r}")
        if answer.status == RECORDS and len(answer.subscribers) != 1:
            problems.append(f"target {answer.target}: {len(answer.subscribers)} subscribers "
                            "given as its answer; only a single proven one may be")
        if answer.status != RECORDS and answer.subscribers:
            problems.append(f"target {answer.target} is {answer.status} but names "
                            "subscribers")
        if target.kind == "ip" and answer.status == RECORDS and (
                target.instant is None or not scope.within(target.instant)):
            problems.append(f"target {answer.target}: its instant is outside the named "
                            "date range")
    for number, row in enumerate(rows, start=1):
        where = f"row {number} (target {row.target}, {row.category}.{row.field})"
        found = by_target.get(row.target)
        if scope.target(row.target) is None:
            problems.append(f"{where}: the request names no target {row.target}")
        elif found is None or found.status != RECORDS:
            problems.append(f"{where}: target {row.target} has no records to produce")
        elif row.subscriber not in found.subscribers:
            problems.append(f"{where}: subscriber record {row.subscriber} was not the answer "
                            f"for target {row.target}")
        if row.category not in scope.categories:
            problems.append(f"{where}: category {row.category} is not in scope "
                            f"({', '.join(scope.categories) or 'nothing'})")
        if row.at is not None:
            moment = _instant(row.at)
            if moment is None:
                problems.append(f"{where}: {row.at!r} is not a UTC instant")
            elif not scope.within(moment):
                problems.append(f"{where}: {row.at} is outside the named date range")
        if row.clause != scope.clause(row.target, row.category):
            problems.append(f"{where}: its scope clause does not match the request")
    return problems
