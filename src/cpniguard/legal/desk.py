"""What the legal desk shows: the list (no contents) and one request (everything), each read
through the access gate.

Listing is a `search` of `legal_requests` for the purpose `legal_desk`; it shows case numbers,
kinds, statuses and deadlines, never targets, agents or documents. Reading one request is a
`read` under its own case number as reference. The shipped policy gives both to the custodian
of records and to counsel, and nothing to anyone else; every read and every refusal is audited.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from cpniguard.access import Actor, access
from cpniguard.access.gate import SubjectNotFound
from cpniguard.legal.findings import Severity
from cpniguard.legal.models import LegalRequest
from cpniguard.legal.status import SETTLED, Status
from cpniguard.policy import Action, Policy, current_policy

RESOURCE = "legal:request"
PURPOSE = "legal_desk"
CATEGORIES = frozenset({"legal_requests"})
LIST_FIELDS = ("legal_request.reference", "legal_request.kind", "legal_request.status",
               "legal_request.response_due")
DETAIL_FIELDS = ("legal_request.document", "legal_request.targets",
                 "legal_request.attachments", "legal_request.findings",
                 "legal_request.transitions", "legal_request.approvals")


def subject_of(reference: str) -> str:
    return f"legal_request:{reference}"


def person_of(actor: Actor) -> str:
    """The staff member behind an actor, whatever the channel: the CLI's actor is named
    `jdoe (os:jdoe)`, the web's and the API's `jdoe`; both are the same person."""
    return actor.username.split(" (os:", 1)[0]


def utc(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def deadline(request: LegalRequest, today: date) -> dict[str, Any]:
    """Days left until the response is due; overdue while something is still owed."""
    if request.response_due is None:
        return {"response_due": None, "days_left": None, "overdue": False}
    left = (request.response_due - today).days
    return {"response_due": request.response_due.isoformat(), "days_left": left,
            "overdue": left < 0 and request.status not in SETTLED}


def answer_scope(request: LegalRequest, policy: Policy) -> list[str]:
    """The categories an answer may contain: asked, within what the kind may compel, and
    within the narrowing if there was one. Empty for a kind the policy does not describe."""
    kind = policy.legal_process.get(request.kind)
    if kind is None or not kind.discloses:
        return []
    scope = request.scope
    return [c for c in request.categories
            if c in kind.may_compel and (scope is None or c in scope)]


def list_requests(actor: Actor, *, status: str | None = None) -> list[dict[str, Any]]:
    policy = current_policy()
    today = timezone.now().astimezone(UTC).date()
    wanted = Status(status).value if status else None  # ValueError before anything is asked
    with access(actor, Action.SEARCH, resource=RESOURCE, purpose=PURPOSE, reference=None,
                subject="legal_request:*", categories=CATEGORIES) as permit:
        rows = LegalRequest.objects.all()
        if wanted:
            rows = rows.filter(status=wanted)
        rows = rows.annotate(
            errors=Count("findings", filter=Q(findings__severity=Severity.ERROR.value)),
            warnings=Count("findings", filter=Q(findings__severity=Severity.WARNING.value)),
        ).order_by("response_due", "id")
        result = []
        for row in rows:
            kind = policy.legal_process.get(row.kind)
            result.append({
                "reference": row.reference, "kind": row.kind,
                "kind_label": kind.label if kind else "(not a kind the policy describes)",
                "status": row.status, "received": utc(row.created), **deadline(row, today),
                "errors": getattr(row, "errors", 0), "warnings": getattr(row, "warnings", 0),
            })
        permit.touched(LIST_FIELDS)
    # Overdue first, then by due date; requests with no due date last.
    result.sort(key=lambda r: (not r["overdue"], r["response_due"] is None,
                               r["response_due"] or ""))
    return result


def show_request(actor: Actor, reference: str) -> dict[str, Any]:
    with access(actor, Action.READ, resource=RESOURCE, purpose=PURPOSE, reference=reference,
                subject=subject_of(reference), categories=CATEGORIES) as permit:
        request = LegalRequest.objects.filter(reference=reference).first()
        if request is None:
            raise SubjectNotFound(f"no legal request {reference}")
        view = present(request, current_policy())
        permit.touched(DETAIL_FIELDS)
    return view


def present(request: LegalRequest, policy: Policy) -> dict[str, Any]:
    """Everything about one request: what was given, what was understood, the findings."""
    kind = policy.legal_process.get(request.kind)
    today = timezone.now().astimezone(UTC).date()
    return {
        "reference": request.reference, "kind": request.kind,
        "kind_label": kind.label if kind else None, "statute": kind.statute if kind else None,
        "status": request.status, **deadline(request, today),
        "issuing_authority": request.issuing_authority, "court": request.court,
        "case_number": request.case_number,
        "agent": {"name": request.agent_name, "contact": request.agent_contact,
                  "verified_by": request.contact_verification},
        "addressed_to": request.addressed_to, "signed": request.signed,
        "issued": day(request.issued), "served_on": day(request.served_on),
        "served_at": utc(request.served_at),
        "categories": request.categories, "narrowed_to": request.scope,
        "answer_scope": answer_scope(request, policy),
        "date_range": {"from": utc(request.date_from), "to": utc(request.date_to)},
        "nondisclosure": {"ordered": request.nondisclosure,
                          "until": day(request.nondisclosure_until)},
        "documents": request.documents, "notes": request.notes,
        "created_by": request.created_by, "received": utc(request.created),
        "validated": utc(request.validated),
        "targets": [{"kind": t.kind, "given": t.given, "at_given": t.at_given,
                     "value": t.value, "address": t.address, "port": t.port,
                     "instant_utc": utc(t.instant), "readable": t.readable}
                    for t in request.targets.all()],
        "attachments": [{"name": a.name, "size": a.size, "content_type": a.content_type,
                         "sha256": a.sha256, "added_by": a.added_by, "added": utc(a.added)}
                        for a in request.attachments.all()],
        "findings": [{"severity": f.severity, "code": f.code, "message": f.message,
                      "field": f.field, "target": f.target, "items": f.items}
                     for f in request.findings.all()],
        "approvals": [{"who": a.who, "role": a.role, "when": utc(a.when)}
                      for a in request.approvals.all()],
        "transitions": [{"from": t.from_status or None, "to": t.to_status, "who": t.who,
                         "role": t.role, "when": utc(t.when), "note": t.note}
                        for t in request.transitions.all()],
        **outcomes(request),
    }


def outcomes(request: LegalRequest) -> dict[str, Any]:
    """The package produced, the holds placed and the customer notices, if any: what the
    desk did about it."""
    from cpniguard.legal.notices import notice_summary
    from cpniguard.legal.outcomes import Preservation, Production

    made = Production.objects.filter(request=request).first()
    kept = Preservation.objects.filter(request=request).first()
    return {
        "production": None if made is None else {
            "directory": made.directory, "files": made.files,
            "manifest_sha256": made.manifest_sha256, "rows": made.rows,
            "answers": made.answers, "categories": made.categories,
            "accounts": len(made.subscribers), "produced_by": made.produced_by,
            "sealed": utc(made.sealed), "delivered": utc(made.delivered),
            "delivered_to": made.delivered_to, "delivered_how": made.delivered_how},
        "preservation": None if kept is None else {
            "holds": kept.holds, "unheld": kept.unheld, "placed_by": kept.placed_by,
            "placed": utc(kept.placed), "expires": utc(kept.expires),
            "renewals": kept.renewals},
        "notices": notice_summary(request, timezone.now().astimezone(UTC).date()),
    }
