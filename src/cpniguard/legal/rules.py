"""Validating a legal request against the rules of the policy file: a pure function.

    findings = check(policy, document, Context(now=..., pools=...))

Every rule reads its parameters from `policy.legal_process[kind]` (what the kind may compel,
which fields and documents it needs, notice, sealing, counsel review, follow-up); none is
written here. The same function runs at intake and on demand, and never raises on bad input.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from cpniguard.legal.findings import Finding, error, info, warning
from cpniguard.legal.request_format import ParsedRequest, read_document
from cpniguard.policy import Policy
from cpniguard.policy.legal_process import LegalProcessKind

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

FIELD_LABELS = {
    "issuing_authority": "the issuing authority", "court": "the court",
    "case_number": "the case or docket number", "agent_name": "the requesting agent",
    "agent_contact": "the agent's contact", "addressed_to": "the entity it is addressed to",
    "contact_verification": "how the agent's contact was verified",
    "signature": "a signature", "issued": "the date issued", "served": "the date served",
    "response_due": "the response due date", "targets": "at least one target",
    "categories": "the data categories asked for", "date_range": "the date range",
    "nondisclosure": "the non-disclosure order and its expiry",
}


@dataclass(frozen=True)
class Context:
    now: datetime
    pools: tuple[Network, ...] = ()          # declared CGNAT public pools
    attachments: frozenset[str] = frozenset()  # names of the files that came with it
    scope: frozenset[str] | None = None      # categories after narrowing, if narrowed


def check(policy: Policy, document: Any, context: Context) -> tuple[ParsedRequest,
                                                                    list[Finding]]:
    parsed, findings = read_document(document)
    return parsed, findings + validate(policy, parsed, context)


def validate(policy: Policy, parsed: ParsedRequest, context: Context) -> list[Finding]:
    kind = policy.legal_process.get(parsed.kind)
    if kind is None:
        known = ", ".join(sorted(policy.legal_process))
        return [error("kind-unknown", f"{parsed.kind or '(none)'} is not a kind of legal "
                      f"process the policy describes; one of: {known}", field="kind")]
    findings = [info("kind", f"{kind.label} ({kind.statute})", field="kind")]
    findings += _required(kind, parsed)
    findings += _documents(policy, kind, parsed, context)
    findings += _categories(policy, kind, parsed, context)
    findings += _addressed(policy, parsed)
    findings += _targets(parsed, context)
    findings += _dates(kind, parsed, context)
    findings += _notice(kind, parsed, context)
    if kind.counsel_review:
        findings.append(warning("counsel-review", f"counsel review: {kind.counsel_review}",
                                field="kind"))
    return findings


def _required(kind: LegalProcessKind, parsed: ParsedRequest) -> list[Finding]:
    findings = []
    for name in sorted(kind.required):
        if name in parsed.malformed:
            continue  # already reported as malformed
        if name == "signature":
            if parsed.signature is not True:
                findings.append(error("signature-missing", f"{_this(kind)} must be signed; "
                                      "it is not", field="signature"))
        elif name not in parsed.given:
            findings.append(error("field-required", f"{_this(kind)} must give "
                                  f"{FIELD_LABELS[name]}", field=name, items=(name,)))
    return findings


def _documents(policy: Policy, kind: LegalProcessKind, parsed: ParsedRequest,
               context: Context) -> list[Finding]:
    findings = []
    for document in sorted(kind.required_documents - parsed.documents.keys()):
        findings.append(error("document-missing", f"{_this(kind)} must come with: "
                              f"{policy.legal_documents[document]}", field="documents",
                              items=(document,)))
    for document, attachment in sorted(parsed.documents.items()):
        if attachment and attachment not in context.attachments:
            findings.append(warning("attachment-missing", f"{document} cites the file "
                                    f"{attachment!r}, which is not attached",
                                    field="documents", items=(document,)))
    if kind.follow_up_days is not None:
        served = parsed.served_on or context.now.date()
        due = served + timedelta(days=kind.follow_up_days)
        findings.append(info("follow-up-due", f"the legal process that must follow is due by "
                             f"{due.isoformat()} ({kind.follow_up_days} days after service)",
                             field="served", items=(due.isoformat(),)))
    return findings


def _categories(policy: Policy, kind: LegalProcessKind, parsed: ParsedRequest,
                context: Context) -> list[Finding]:
    findings = []
    unknown = [c for c in parsed.categories if c not in policy.categories]
    if unknown:
        findings.append(error("category-unknown", f"no such data categories: "
                              f"{', '.join(unknown)}; known: {', '.join(policy.categories)}",
                              field="categories", items=tuple(unknown)))
    asked = [c for c in parsed.categories if c in policy.categories]
    answered = asked if context.scope is None else [c for c in asked if c in context.scope]
    beyond = tuple(c for c in answered if c not in kind.may_compel)
    if beyond:
        allowed = [c for c in answered if c in kind.may_compel]
        what = "preserve" if not kind.discloses else "compel"
        advice = (f"narrow to {', '.join(allowed)} (partial compliance) or reject" if allowed
                  else "reject: nothing asked is within it")
        findings.append(error("category-not-compellable", f"{_this(kind)} "
                              f"({kind.statute}) cannot {what} {', '.join(beyond)}; {advice}",
                              field="categories", items=beyond))
    if context.scope is not None and set(answered) != set(asked):
        dropped = [c for c in asked if c not in context.scope]
        answering = ", ".join(answered) or "nothing"
        findings.append(info("narrowed", f"answering only {answering}; not answering "
                             f"{', '.join(dropped)} (partial compliance)",
                             field="categories", items=tuple(dropped)))
    if not kind.discloses:
        findings.append(info("discloses-nothing", f"nothing is disclosed under "
                             f"{_this(kind)}", field="kind"))
    return findings


def _this(kind: LegalProcessKind) -> str:
    """"this DMCA subpoena", "this grand jury subpoena": acronyms keep their capitals."""
    label = kind.label
    if len(label) > 1 and label[1].islower():
        label = label[0].lower() + label[1:]
    return f"this {label}"


def _normalized(name: str) -> str:
    words = re.sub(r"[^a-z0-9 ]", " ", name.casefold()).split()
    suffixes = {"inc", "llc", "co", "corp", "corporation", "incorporated", "company", "ltd"}
    while words and words[-1] in suffixes:
        words.pop()
    return " ".join(words)


def _addressed(policy: Policy, parsed: ParsedRequest) -> list[Finding]:
    given = parsed.text("addressed_to")
    if not given:
        return []
    org = policy.organization
    ours = {_normalized(org.name), _normalized(org.legal_name)}
    if _normalized(given) in ours:
        return []
    return [error("not-addressed-to-us", f"addressed to {given!r}, not to {org.legal_name}",
                  field="addressed_to")]


def _targets(parsed: ParsedRequest, context: Context) -> list[Finding]:
    findings = []
    for index, target in enumerate(parsed.targets):
        if target.kind != "ip" or not target.address or target.port is not None:
            continue
        address = ipaddress.ip_address(target.address)
        pool = next((p for p in context.pools
                     if p.version == address.version and address in p), None)
        if pool is not None:
            findings.append(error("port-required", f"target {index + 1}: {target.address} is "
                                  f"in the shared CGNAT pool {pool}; many subscribers use it "
                                  "at once, so a source port is needed", field="targets",
                                  target=index))
    return findings


def _dates(kind: LegalProcessKind, parsed: ParsedRequest, context: Context) -> list[Finding]:
    findings = []
    today = context.now.date()
    if parsed.response_due is not None and parsed.response_due < today:
        findings.append(warning("response-due-passed", f"the response was due on "
                                f"{parsed.response_due.isoformat()}", field="response_due"))
    start, end = parsed.date_from, parsed.date_to
    if start is None or end is None:
        return findings
    if end <= start:
        findings.append(error("date-range-reversed", "the date range ends before it starts",
                              field="date_range"))
        return findings
    if kind.max_days is not None and end - start > timedelta(days=kind.max_days):
        findings.append(error("date-range-too-long", f"{_this(kind)} may name at "
                              f"most {kind.max_days} days; this names {(end - start).days}",
                              field="date_range"))
    served = parsed.served_at or _midnight(parsed.served_on, context)
    if kind.prospective and start < served:
        findings.append(warning("range-before-service", f"{_this(kind)} is "
                                "prospective: it reaches nothing recorded before it was "
                                "served", field="date_range"))
    if kind.past_only and end > served:
        findings.append(warning("range-after-service", f"{_this(kind)} reaches only "
                                "records that exist when it is served", field="date_range"))
    return findings


def _midnight(day: date | None, context: Context) -> datetime:
    if day is None:
        return context.now
    return datetime(day.year, day.month, day.day, tzinfo=context.now.tzinfo)


def _notice(kind: LegalProcessKind, parsed: ParsedRequest, context: Context) -> list[Finding]:
    findings = []
    if kind.sealed:
        findings.append(info("sealed", "sealed: never tell the customer or anyone else that "
                             "this order exists", field="kind"))
    if parsed.nondisclosure:
        until = parsed.nondisclosure_until
        if until is None:
            findings.append(warning("nondisclosure-open-ended", "a non-disclosure order "
                                    "with no expiry: no customer notice until counsel says "
                                    "otherwise", field="nondisclosure"))
        elif until < context.now.date():
            findings.append(info("nondisclosure-expired", f"the non-disclosure order expired "
                                 f"on {until.isoformat()}", field="nondisclosure"))
        else:
            findings.append(info("nondisclosure", f"no customer notice before "
                                 f"{until.isoformat()} (non-disclosure order)",
                                 field="nondisclosure"))
    elif kind.customer_notice:
        wait = (f"; production waits {kind.notice_wait_days} days after the notice"
                if kind.notice_wait_days else "")
        findings.append(info("customer-notice", f"the customer may be notified{wait}",
                             field="nondisclosure"))
    return findings
