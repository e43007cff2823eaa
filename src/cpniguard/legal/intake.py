"""Taking in a legal request: from a file (the CLI) or a body (the API), with its attachments.

Intake is the action `import` on `legal_requests` for the purpose `legal_desk`. Inside one
transaction with its audit entry it gives the request its case number (LR-YYYY-NNNN, which
the policy's `legal_case` reference pattern must accept), stores what was given and what was
understood, keeps every attachment by SHA-256, runs the validation and records the first
transition (to `received`). Whatever is wrong with the request's fields becomes a finding;
only something that is not a JSON object at all is refused before anything is asked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from cpniguard.access import Actor, access
from cpniguard.connectivity.network import BadNetworkConfig, cgnat_pools
from cpniguard.legal import attachments
from cpniguard.legal.desk import CATEGORIES, PURPOSE, RESOURCE, person_of, present, subject_of
from cpniguard.legal.findings import Finding, Severity, warning
from cpniguard.legal.models import Attachment, LegalRequest, ReferenceCounter, Target, Transition
from cpniguard.legal.models import Finding as FindingRow
from cpniguard.legal.request_format import ParsedRequest, read_document
from cpniguard.legal.rules import Context, check
from cpniguard.legal.status import Status
from cpniguard.policy import Action, Policy, current_policy

IMPORT_FIELDS = ("legal_request.document", "legal_request.targets",
                 "legal_request.attachments", "legal_request.findings")


class BadRequestFile(ValueError):
    """Not a legal request document at all (not JSON, not an object): nothing is stored."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """A file that came with the request, as received."""

    name: str
    data: bytes
    content_type: str = ""


def next_reference(policy: Policy, year: int) -> str:
    """The next case number of the year; the counter row is locked until the commit."""
    ReferenceCounter.objects.bulk_create([ReferenceCounter(year=year, last=0)],
                                         ignore_conflicts=True)
    counter = ReferenceCounter.objects.select_for_update().get(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    reference = f"LR-{year:04d}-{counter.last:04d}"
    kind = policy.references.get("legal_case")
    if kind is None or not kind.pattern.fullmatch(reference):
        raise RuntimeError(f"{reference} does not match the policy's legal_case reference "
                           "pattern; the desk cannot number requests under this policy")
    return reference


def context_for(request: LegalRequest, now: datetime,
                names: frozenset[str]) -> tuple[Context, list[Finding]]:
    extra: list[Finding] = []
    try:
        pools = cgnat_pools()
    except BadNetworkConfig as trouble:
        pools = ()
        extra.append(warning("cgnat-pools-unreadable", f"the CGNAT pools could not be read, "
                             f"so no port was checked: {trouble}"[:2000], field="targets"))
    scope = None if request.scope is None else frozenset(request.scope)
    return Context(now=now, pools=pools, attachments=names, scope=scope), extra


def run_validation(request: LegalRequest, policy: Policy, now: datetime) -> list[Finding]:
    """Validate the stored document again (rules or pools may have changed since), and keep
    the new findings in place of the old."""
    names = frozenset(request.attachments.values_list("name", flat=True))
    context, extra = context_for(request, now, names)
    _, findings = check(policy, request.document, context)
    findings += extra
    request.findings.all().delete()
    FindingRow.objects.bulk_create(
        FindingRow(request=request, severity=f.severity.value, code=f.code,
                   message=f.message[:2000], field=f.field, target=f.target,
                   items=list(f.items)) for f in findings)
    request.validated = now
    request.save(update_fields=["validated"])
    return findings


def _columns(parsed: ParsedRequest) -> dict[str, Any]:
    text = parsed.text
    return {
        "kind": text("kind")[:64], "issuing_authority": text("issuing_authority"),
        "court": text("court"), "case_number": text("case_number"),
        "agent_name": text("agent_name"), "agent_contact": text("agent_contact"),
        "contact_verification": text("contact_verification"),
        "addressed_to": text("addressed_to"), "signed": parsed.signature,
        "issued": parsed.issued, "served_on": parsed.served_on, "served_at": parsed.served_at,
        "response_due": parsed.response_due, "categories": parsed.categories,
        "date_from": parsed.date_from, "date_to": parsed.date_to,
        "nondisclosure": bool(parsed.nondisclosure),
        "nondisclosure_until": parsed.nondisclosure_until, "documents": parsed.documents,
        "notes": text("notes"),
    }


def take_in(actor: Actor, document: Any, files: Sequence[Incoming] = ()) -> dict[str, Any]:
    """Store a new request; return it as `desk.present` shows it. Raises BadRequestFile
    before the gate is asked; AccessRefused (audited) for a role without intake."""
    if not isinstance(document, dict):
        raise BadRequestFile("a legal request is a JSON object; see docs/legal-desk.md")
    if "\\u0000" in json.dumps(document):
        # PostgreSQL keeps no NUL character in text or JSON; no real request has one.
        raise BadRequestFile("the request contains a NUL character (\\u0000)")
    names = [attachments.safe_name(f.name) for f in files]
    if len(set(names)) != len(names):
        raise BadRequestFile("two attachments have the same file name")
    policy = current_policy()
    with access(actor, Action.IMPORT, resource=RESOURCE, purpose=PURPOSE, reference=None,
                subject="legal_request:new", categories=CATEGORIES) as permit:
        now = timezone.now()
        reference = next_reference(policy, now.year)
        permit.about(subject_of(reference))
        stored = [attachments.store(f.name, f.data, f.content_type) for f in files]
        parsed, _ = read_document(document)  # the findings come from run_validation below
        request = LegalRequest.objects.create(
            reference=reference, status=Status.RECEIVED.value, document=document,
            created_by=person_of(actor), created=now, **_columns(parsed))
        Target.objects.bulk_create(
            Target(request=request, position=index, kind=t.kind, given=t.given,
                   at_given=t.at_given[:200], value=t.value, address=t.address or None,
                   port=t.port, instant=t.instant, readable=t.readable)
            for index, t in enumerate(parsed.targets))
        Attachment.objects.bulk_create(
            Attachment(request=request, name=s.name, size=s.size, content_type=s.content_type,
                       sha256=s.sha256, added_by=person_of(actor), added=now)
            for s in stored)
        findings = run_validation(request, policy, now)
        errors = sum(f.severity is Severity.ERROR for f in findings)
        warnings = sum(f.severity is Severity.WARNING for f in findings)
        Transition.objects.create(
            request=request, from_status="", to_status=Status.RECEIVED.value,
            who=person_of(actor), role=actor.role, when=now,
            note=f"intake through {actor.channel}: {errors} error(s), {warnings} warning(s); "
                 f"{len(stored)} attachment(s)")
        permit.touched(IMPORT_FIELDS)
        view = present(request, policy)
    # A preservation letter may hold records at once (the policy's preserve_on_intake).
    from cpniguard.legal.preservation import on_intake

    return on_intake(actor, reference, view)
