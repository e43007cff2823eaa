"""Reading a legal request document (the JSON format of docs/legal-desk.md) into what the desk
understood, keeping what was given beside it.

Never raises on bad input: a field of the wrong type, a date that is not one, an instant with
no offset or zone, an address that is not one, each becomes a finding naming the field (and
the target), and the field counts as given but unusable. Instants are read by the same
function the attribution CLI, API and page use (`connectivity.question.parse_instant`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from cpniguard.connectivity.question import Usage, parse_instant, parse_target
from cpniguard.legal.findings import Finding, error

FORMAT = "cpniguard-legal-request/1"
TEXT_FIELDS = ("kind", "issuing_authority", "court", "case_number", "addressed_to", "notes")
AGENT_FIELDS = {"name": "agent_name", "contact": "agent_contact",
                "verified_by": "contact_verification"}
TARGET_KINDS = ("account", "name", "phone", "email", "address", "ip")
MAX_TEXT = 1000


@dataclass
class ParsedTarget:
    kind: str
    given: str                       # the value exactly as written
    at_given: str = ""               # the instant exactly as written, if any
    value: str = ""                  # as understood: canonical form; "" if unreadable
    address: str = ""                # ip targets: the address understood
    port: int | None = None
    instant: datetime | None = None  # UTC
    readable: bool = True


@dataclass
class ParsedRequest:
    texts: dict[str, str] = field(default_factory=dict)  # the TEXT_FIELDS and agent fields
    signature: bool | None = None
    issued: date | None = None
    served_on: date | None = None
    served_at: datetime | None = None  # UTC, when the service instant was given
    response_due: date | None = None
    targets: list[ParsedTarget] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # as asked, in order, once each
    date_from: datetime | None = None
    date_to: datetime | None = None
    nondisclosure: bool | None = None
    nondisclosure_until: date | None = None
    documents: dict[str, str] = field(default_factory=dict)  # kind -> attachment name or ""
    given: set[str] = field(default_factory=set)      # fields present and non-empty
    malformed: set[str] = field(default_factory=set)  # present but unusable

    def text(self, name: str) -> str:
        return self.texts.get(name, "")

    @property
    def kind(self) -> str:
        return self.text("kind")


def read_document(document: Any) -> tuple[ParsedRequest, list[Finding]]:
    parsed, findings = ParsedRequest(), []
    if not isinstance(document, dict):
        findings.append(error("document-not-object",
                              "a legal request is a JSON object; see docs/legal-desk.md"))
        return parsed, findings
    reader = _Reader(document, parsed, findings)
    reader.read()
    return parsed, findings


class _Reader:
    def __init__(self, document: dict[str, Any], parsed: ParsedRequest,
                 findings: list[Finding]) -> None:
        self.doc, self.out, self.findings = document, parsed, findings

    def bad(self, name: str, message: str, code: str = "field-malformed") -> None:
        self.out.malformed.add(name)
        self.findings.append(error(code, f"{name}: {message}", field=name))

    def read(self) -> None:
        fmt = self.doc.get("format", FORMAT)
        if fmt != FORMAT:
            self.findings.append(error("format-unknown",
                                       f"format {fmt!r} is not {FORMAT!r}", field="format"))
        for name in TEXT_FIELDS:
            self._text(self.doc.get(name), name)
        agent = self.doc.get("agent")
        if agent is not None and not isinstance(agent, dict):
            self.bad("agent_name", "agent must be an object with name, contact, verified_by")
            agent = {}
        for key, name in AGENT_FIELDS.items():
            self._text((agent or {}).get(key), name)
        self._signature()
        self.out.issued = self._date("issued")
        self._served()
        self.out.response_due = self._date("response_due")
        self._targets()
        self._categories()
        self._range()
        self._nondisclosure()
        self._documents()

    def _text(self, value: Any, name: str) -> None:
        if value is None or value == "":
            return
        self.out.given.add(name)
        if not isinstance(value, str):
            self.bad(name, f"must be text, got {type(value).__name__}")
            return
        value = " ".join(value.split())
        if len(value) > MAX_TEXT:
            self.bad(name, f"longer than {MAX_TEXT} characters")
            return
        self.out.texts[name] = value

    def _signature(self) -> None:
        value = self.doc.get("signed")
        if value is None:
            return
        self.out.given.add("signature")
        if not isinstance(value, bool):
            self.bad("signature", "signed must be true or false")
            return
        self.out.signature = value

    def _date(self, name: str, value: Any = None) -> date | None:
        """A calendar day: YYYY-MM-DD, or the local date of an instant with its zone."""
        value = self.doc.get(name) if value is None else value
        if value is None or value == "":
            return None
        self.out.given.add(name)
        if not isinstance(value, str):
            self.bad(name, "must be a date written YYYY-MM-DD")
            return None
        try:
            return date.fromisoformat(value.strip()) if len(value.strip()) == 10 \
                else parse_instant(value).date()
        except (ValueError, Usage) as problem:
            self.bad(name, f"{value!r} is not a date: {problem}")
            return None

    def _served(self) -> None:
        value = self.doc.get("served")
        if isinstance(value, str) and len(value.strip()) > 10:
            self.out.given.add("served")
            try:
                moment = parse_instant(value)
            except Usage as problem:
                self.bad("served", str(problem))
                return
            self.out.served_at = moment.astimezone(UTC)
            self.out.served_on = moment.date()
            return
        self.out.served_on = self._date("served")

    def _instant(self, name: str, value: Any) -> datetime | None:
        if not isinstance(value, str) or not value.strip():
            self.bad(name, "must be an instant with a UTC offset or a zone name")
            return None
        try:
            return parse_instant(value).astimezone(UTC)
        except Usage as problem:
            self.bad(name, str(problem), code="instant-no-zone")
            return None

    def _range(self) -> None:
        value = self.doc.get("date_range")
        if value is None:
            return
        self.out.given.add("date_range")
        if not isinstance(value, dict) or not {"from", "to"} <= value.keys():
            self.bad("date_range", 'must be {"from": INSTANT, "to": INSTANT}')
            return
        self.out.date_from = self._instant("date_range", value["from"])
        self.out.date_to = self._instant("date_range", value["to"])

    def _categories(self) -> None:
        value = self.doc.get("categories")
        if value is None or value == []:
            return
        self.out.given.add("categories")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.bad("categories", "must be a list of data category names")
            return
        for name in value:
            if name.strip() not in self.out.categories:
                self.out.categories.append(name.strip())

    def _nondisclosure(self) -> None:
        value = self.doc.get("nondisclosure")
        if value is None:
            return
        if not isinstance(value, dict) or not isinstance(value.get("ordered", False), bool):
            self.out.given.add("nondisclosure")
            self.bad("nondisclosure", 'must be {"ordered": true|false, "until": DATE|null}')
            return
        self.out.nondisclosure = bool(value.get("ordered", False))
        if self.out.nondisclosure:
            self.out.given.add("nondisclosure")
            until = value.get("until")
            if until not in (None, ""):
                self.out.nondisclosure_until = self._date("nondisclosure", until)

    def _documents(self) -> None:
        value = self.doc.get("documents")
        if value is None:
            return
        if not isinstance(value, list):
            self.bad("documents", "must be a list of document kinds or "
                     '{"kind": ..., "attachment": FILE NAME} objects')
            return
        for item in value:
            if isinstance(item, str) and item.strip():
                self.out.documents.setdefault(item.strip(), "")
            elif isinstance(item, dict) and isinstance(item.get("kind"), str) \
                    and isinstance(item.get("attachment", ""), str):
                self.out.documents[item["kind"].strip()] = item.get("attachment", "").strip()
            else:
                self.bad("documents", f"cannot read the document entry {item!r}"[:300])

    def _targets(self) -> None:
        value = self.doc.get("targets")
        if value is None or value == []:
            return
        self.out.given.add("targets")
        if not isinstance(value, list):
            self.bad("targets", "must be a list of {kind, value, at} objects")
            return
        for index, item in enumerate(value):
            self.out.targets.append(self._target(index, item))

    def _target(self, index: int, item: Any) -> ParsedTarget:
        def problem(code: str, message: str) -> None:
            target.readable = False
            self.findings.append(error(code, f"target {index + 1}: {message}",
                                       field="targets", target=index))

        if not isinstance(item, dict):
            target = ParsedTarget("", str(item)[:200])
            problem("target-malformed", "must be an object with kind, value and at")
            return target
        kind, given, at = item.get("kind"), item.get("value"), item.get("at")
        target = ParsedTarget(str(kind or "")[:16], str(given or "")[:MAX_TEXT],
                              at if isinstance(at, str) else "")
        if kind not in TARGET_KINDS:
            problem("target-kind-unknown", f"kind {kind!r} is not one of {list(TARGET_KINDS)}")
            return target
        if not isinstance(given, str) or not given.strip():
            problem("target-malformed", "has no value")
            return target
        if at not in (None, ""):
            if not isinstance(at, str):
                problem("target-malformed", "at must be text")
            else:
                try:
                    target.instant = parse_instant(at).astimezone(UTC)
                except Usage as trouble:
                    problem("target-instant-no-zone", str(trouble))
        try:
            target.value = _canonical(kind, given, target)
        except ValueError as trouble:
            problem("target-malformed", str(trouble))
            return target
        if kind == "ip" and target.instant is None and at in (None, ""):
            problem("target-instant-missing",
                    f"{given.strip()} needs the instant it was seen, with its zone")
        return target


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _canonical(kind: str, given: str, target: ParsedTarget) -> str:
    text = " ".join(given.split())
    if kind == "ip":
        try:
            target.address, target.port = parse_target(text)
        except Usage as trouble:
            raise ValueError(str(trouble)) from None
        if target.port is None:
            return target.address
        return f"[{target.address}]:{target.port}" if ":" in target.address \
            else f"{target.address}:{target.port}"
    if kind == "phone":
        digits = re.sub(r"\D", "", text)
        if text.startswith("+") and 8 <= len(digits) <= 15:
            return f"+{digits}"
        if len(digits) == 10:
            return f"+1{digits}"
        if len(digits) == 11 and digits.startswith("1"):
            return f"+{digits}"
        raise ValueError(f"{text!r} is not a telephone number")
    if kind == "email":
        if not _EMAIL.match(text):
            raise ValueError(f"{text!r} is not an email address")
        return text.lower()
    if kind == "account":
        return text.upper()
    return text
