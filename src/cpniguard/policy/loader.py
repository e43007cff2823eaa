"""Read a policy file, and say exactly what is wrong with a bad one, line by line."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cpniguard.policy.legal_process import (
    parse_desk,
    parse_documents,
    parse_kinds,
    with_notice_wait,
)
from cpniguard.policy.model import (
    Action,
    Category,
    Grant,
    Organization,
    Policy,
    Purpose,
    ReferenceKind,
    Role,
)

REQUIRED_PURPOSES = ("provide_service", "billing", "troubleshooting", "legal_process")
REQUIRED_FORBIDDEN = ("marketing", "sale", "third_party_sharing")
REQUIRED_ROLES = ("support", "billing", "noc", "custodian", "compliance", "auditor", "admin")
MIN_DISCLOSURE_LOG_DAYS = 365  # 47 CFR 64.2009(c): keep the record at least one year


@dataclass(frozen=True)
class PolicyError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class InvalidPolicy(ValueError):
    def __init__(self, source: str, errors: list[PolicyError]) -> None:
        self.source = source
        self.errors = errors
        super().__init__(f"{source}: " + "; ".join(str(e) for e in errors))


class _LineMap:
    """Finds the line of a table or key, so semantic errors point where the operator edits."""

    _header = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"]+)\s*\]\]?")
    _key = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        counts: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._header.match(line)
            if header:
                name = header.group(2).replace('"', "")
                if header.group(1) == "[[":
                    index = counts.get(name, 0)
                    counts[name] = index + 1
                    table = (*name.split("."), str(index))
                else:
                    table = tuple(name.split("."))
                self.lines.setdefault(table, number)
                continue
            key = self._key.match(line)
            if key:
                self.lines.setdefault((*table, key.group(1)), number)

    def find(self, *path: str) -> int:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 1


def _syntax_line(error: tomllib.TOMLDecodeError) -> int:
    match = re.search(r"line (\d+)", str(error))
    return int(match.group(1)) if match else 1


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Parse and validate; raise InvalidPolicy listing every problem with its line."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidPolicy(source, [PolicyError(_syntax_line(error), str(error))]) from None
    lines = _LineMap(text)
    errors: list[PolicyError] = []

    def err(message: str, *path: str) -> None:
        errors.append(PolicyError(lines.find(*path), message))

    def table(name: str) -> dict[str, Any]:
        value = raw.get(name, {})
        if not isinstance(value, dict) or not value:
            err(f"[{name}] must be a non-empty table", name)
            return {}
        return value

    def text_field(entry: dict[str, Any], key: str, *path: str) -> str:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            err(f"{'.'.join(path)}.{key} must be a non-empty string", *path, key)
            return ""
        return value

    version = raw.get("version")
    if not isinstance(version, str) or not version:
        err("version must be a non-empty string", "version")
        version = ""
    org = raw.get("organization", {})
    organization = Organization(
        **{k: text_field(org, k, "organization") for k in Organization.__dataclass_fields__}
    )

    categories = {
        cid: Category(cid, text_field(c, "label", "categories", cid),
                      text_field(c, "notice", "categories", cid), bool(c.get("cpni", False)))
        for cid, c in table("categories").items()
    }
    purposes = {
        pid: Purpose(pid, text_field(p, "label", "purposes", pid),
                     text_field(p, "notice", "purposes", pid),
                     bool(p.get("forbidden", False)), bool(p.get("third_party", False)))
        for pid, p in table("purposes").items()
    }
    roles = {
        rid: Role(rid, text_field(r, "label", "roles", rid), bool(r.get("second_factor", False)))
        for rid, r in table("roles").items()
    }
    references: dict[str, ReferenceKind] = {}
    for kid, k in raw.get("references", {}).items():
        try:
            pattern = re.compile(text_field(k, "pattern", "references", kid))
        except re.error as error:
            err(f"references.{kid}.pattern is not a valid regular expression: {error}",
                "references", kid, "pattern")
            continue
        example = text_field(k, "example", "references", kid)
        if example and not pattern.fullmatch(example):
            err(f"references.{kid}.example {example!r} does not match its own pattern",
                "references", kid, "example")
        references[kid] = ReferenceKind(kid, text_field(k, "label", "references", kid),
                                        pattern, example)

    for pid in REQUIRED_PURPOSES:
        if pid not in purposes:
            err(f"purpose {pid!r} is required by the privacy policy", "purposes")
        elif purposes[pid].forbidden:
            err(f"purpose {pid!r} cannot be forbidden", "purposes", pid, "forbidden")
    for pid in REQUIRED_FORBIDDEN:
        if pid not in purposes or not purposes[pid].forbidden:
            err(f"purpose {pid!r} must be declared with forbidden = true", "purposes", pid)
    for rid in REQUIRED_ROLES:
        if rid not in roles:
            err(f"role {rid!r} is required", "roles")

    grants = _grants(raw.get("grants", []), categories, purposes, roles, references, err)
    retention = _retention(raw.get("retention", {}), err)
    documents = parse_documents(raw.get("legal_documents"), err)
    kinds = parse_kinds(raw.get("legal_process"), frozenset(categories), documents, err)
    desk = parse_desk(raw.get("legal_desk"), frozenset(roles), err)
    kinds = with_notice_wait(kinds, desk)
    for kid in sorted(set(desk.banded_kinds) - kinds.keys()):
        err(f"legal_desk.banded_kinds names unknown kind {kid!r}", "legal_desk", "banded_kinds")
    if errors:
        raise InvalidPolicy(source, sorted(errors, key=lambda e: e.line))
    return Policy(version, organization, categories, purposes, roles, references, grants,
                  retention, source, legal_process=kinds, legal_documents=documents,
                  legal_desk=desk)


def _grants(entries: Any, categories: dict[str, Category], purposes: dict[str, Purpose],
            roles: dict[str, Role], references: dict[str, ReferenceKind],
            err: Any) -> list[Grant]:
    grants: list[Grant] = []
    seen: dict[tuple[str, str, str], str] = {}
    valid_actions = {a.value for a in Action}
    for index, entry in enumerate(entries):
        at = ("grants", str(index))
        gid = entry.get("id")
        if not isinstance(gid, str) or not gid:
            err("grant needs an id", *at)
            gid = f"#{index + 1}"
        role, purpose = entry.get("role"), entry.get("purpose")
        if role not in roles:
            err(f"grant {gid}: unknown role {role!r}", *at, "role")
        if purpose not in purposes:
            err(f"grant {gid}: unknown purpose {purpose!r}", *at, "purpose")
        elif purposes[purpose].forbidden:
            err(f"grant {gid}: purpose {purpose!r} is forbidden and cannot be granted",
                *at, "purpose")
        actions = entry.get("actions", [])
        bad_actions = [a for a in actions if a not in valid_actions]
        if not actions or bad_actions:
            err(f"grant {gid}: actions must be some of {sorted(valid_actions)},"
                f" got {bad_actions or actions}", *at, "actions")
        cats = entry.get("categories", [])
        unknown = [c for c in cats if c not in categories]
        if not cats or unknown:
            err(f"grant {gid}: unknown or missing categories {unknown or cats}",
                *at, "categories")
        reference = entry.get("reference")
        if reference is not None and reference not in references:
            err(f"grant {gid}: unknown reference kind {reference!r}", *at, "reference")
        for action in actions:
            key = (str(role), str(purpose), str(action))
            if key in seen:
                err(f"grant {gid}: {role}/{purpose}/{action} is already granted by {seen[key]}",
                    *at, "actions")
            seen[key] = gid
        if isinstance(role, str) and isinstance(purpose, str):
            grants.append(Grant(gid, role, purpose,
                                frozenset(Action(a) for a in actions if a in valid_actions),
                                frozenset(cats), reference))
    return grants


def _retention(entries: Any, err: Any) -> dict[str, int]:
    retention: dict[str, int] = {}
    for name, days in entries.items():
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            err(f"retention.{name} must be a whole number of days, at least 1",
                "retention", name)
            continue
        retention[name] = days
    if retention.get("disclosure_log", 0) < MIN_DISCLOSURE_LOG_DAYS:
        err(f"retention.disclosure_log must be at least {MIN_DISCLOSURE_LOG_DAYS} days"
            " (47 CFR 64.2009(c))", "retention", "disclosure_log")
    return retention


def default_policy_text() -> str:
    return resources.files("cpniguard.policy").joinpath("default_policy.toml").read_text()


def load_policy(path: str | Path | None = None) -> Policy:
    if path is None:
        return parse_policy(default_policy_text(), "<default policy>")
    return parse_policy(Path(path).read_text(), str(path))
